"""Per-shell terms h_i, ∂h_i/∂β, variances and gradient vectors for one chunk of models
(method.md §7 per-call steps 1–2 and 6–7; the cumulant route of §7).

Score route, per shell i and frame component j (reduced units of :mod:`.conjugate`):

    θ̃_i = R_iᵀθ,   κ_ij = β N σ_ij θ̃_ij,   h_i = β θ̃_i·m_i + (1/N) Σ_j Ĝ_ij(κ_ij)
    ∂h_i/∂β = θ̃_i·m_i + (1/(βN)) Σ_j κ_ij Ĝ′_ij(κ_ij),     var_i = Σ_j v_ij(κ_ij)/N²
    U_i = R_i x*_i = R_i m_i + R_i(σ_i ⊙ z*_i),             D* = D0 + Σ_i w_i(α*) U_i
    within-shell Hessian: β Σ_i w_i R_i diag(Nσ_ij² Ĝ″_ij) R_iᵀ

Cumulant route: h_i = βθ·(μ_i − D0) − (β²/2)θᵀK_iθ with K_i = N C_i, U_i = μ_i − D0 − βK_iθ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from .conjugate import ConjugateTables
from .saddle import ShellTerms


@dataclass
class FrameStack:
    """Shell frames stacked over shells: rotation (n_α, N_D, N_D) with R_i's columns the
    components, mean m and scale σ (n_α, N_D) of the analysis coordinates, and N."""

    rotation: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    n_atoms: int

    def __post_init__(self) -> None:
        n_a, n_d, _ = self.rotation.shape
        self.shape = (n_a, n_d)
        # rot_flat[k, i·N_D + j] = R_i[k, j]: one BLAS call gives all θ̃ (method.md §7.1)
        self.rot_flat = np.ascontiguousarray(self.rotation.transpose(1, 0, 2).reshape(n_d, -1))
        self.shift = np.einsum("ikj,ij->ik", self.rotation, self.mean)  # R_i m_i
        self.rotation_t = np.ascontiguousarray(self.rotation.transpose(0, 2, 1))
        self.kappa_factor = self.n_atoms * self.scale.reshape(-1)


class _Groups:
    """Sum per-pair values into (model, shell) cells: a sparse (n_keys × n_pairs) indicator
    (faster than ``np.add.reduceat`` along axis 0)."""

    def __init__(self, keys: np.ndarray, n_keys: int):
        n = keys.size
        self.matrix = sparse.csr_matrix((np.ones(n), (keys, np.arange(n))), shape=(n_keys, n))

    def sum(self, values: np.ndarray) -> np.ndarray:
        """(n_keys, k) sums over pairs of ``values`` (n_pairs, k)."""
        return self.matrix @ values


class ScoreChunk:
    """Score-route terms for models ``theta`` (M, N_D) at inverse temperatures ``beta`` (n_T,).

    A (model, pair) whose κ = βκ̂ stays inside the pair's polynomial range for every β of the
    call takes the polynomial fast path (T-independent sums, see :mod:`.conjugate`); one whose κ
    lies beyond the table for every β is affine in β (linear continuation, clamped) and joins
    the same sums; the others (crossing the table edge, outside the polynomial range, no
    polynomial) are evaluated exactly from the cubic Hermite tables.
    ``gradient=True`` keeps what :meth:`gradient`, :meth:`shell_vectors` and
    :meth:`within_hessian` need."""

    def __init__(self, tables: ConjugateTables, frames: FrameStack, theta: np.ndarray,
                 beta: np.ndarray, gradient: bool = False):
        self.tables, self.frames, self.beta = tables, frames, beta
        n_a, n_d = frames.shape
        n_t, m = beta.size, theta.shape[0]
        self.m = m
        a = theta @ frames.shift.T  # (M, n_α) θ̃_i·m_i = θ·R_i m_i
        self.kappa_hat = (theta @ frames.rot_flat) * frames.kappa_factor  # κ = β κ̂
        routes = tables.paths(self.kappa_hat, float(beta.min()), float(beta.max()), n_d,
                              gradient=gradient)
        self.ok, self.y, self.zc = routes.path == 0, routes.y, routes.zc
        q, qv = routes.q, routes.qv
        self.n_linear = int(routes.clamped.sum())
        n_p = q.shape[0]
        bp = beta[:, None] ** np.arange(n_p)  # (n_T, P+1)
        # sums[0] = Σ_j Ĝ_ij, sums[1] = Σ_j κĜ′_ij = β∂/∂β Σ_j Ĝ_ij, sums[2] = Σ_j v_ij
        sums = np.empty((3, n_t, m, n_a))
        np.matmul(bp, q.reshape(n_p, -1), out=sums[0].reshape(n_t, -1))
        np.matmul(bp * np.arange(n_p), q.reshape(n_p, -1), out=sums[1].reshape(n_t, -1))
        np.matmul(bp, qv.reshape(n_p, -1), out=sums[2].reshape(n_t, -1))
        clamped = np.broadcast_to(routes.clamped, (n_t, m, n_a)).copy()
        si, mi, ei = routes.shell, routes.model, routes.pair
        self.exact = (mi, ei)
        if mi.size:
            # exact table path, added per (model, shell) in the compiled loop
            self.z_exact = np.empty((mi.size, n_t)) if gradient else None
            tables.table_sums(ei, self.kappa_hat[mi, ei], mi, si, beta, sums, clamped,
                              self.z_exact)
            if gradient:
                self.groups = _Groups(mi * n_a + ei // n_d, m * n_a)
        g_sum, k_sum, v_sum = sums
        n = frames.n_atoms
        b = beta[:, None, None]
        self.terms = ShellTerms(h=b * a + g_sum / n, e=a + k_sum / (b * n), var=v_sum / n**2,
                                clamped=clamped)
        self.n_exact = int(mi.size)

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        """D* − D0 = Σ_i w_i R_i x*_i, (n_T, M, N_D); weights (n_T, M, n_α).

        Polynomial pairs: Σ_i w_i R_i(σ⊙z*_i) = Σ_{i,p} w_i β^p Y_ip with T-independent
        Y_ip = R_i(σ_i ⊙ C_i·p) (batched BLAS); exact pairs: a sparse product."""
        f = self.frames
        n_a, n_d = f.shape
        n_t = self.beta.size
        out = weights.reshape(-1, n_a) @ f.shift
        n_p = self.zc.shape[0]
        zc = (self.zc * f.scale.reshape(-1)).reshape(n_p * self.m, n_a, n_d)
        # y[i, (p, m), k] = Σ_j R_i[k, j] σ_ij C_p,m,ij : one GEMM per shell
        y = np.matmul(np.ascontiguousarray(zc.transpose(1, 0, 2)), f.rotation_t)
        y = y.reshape(n_a, n_p, self.m, n_d).transpose(2, 0, 1, 3).reshape(self.m, -1, n_d)
        bp = self.beta[:, None] ** np.arange(n_p)  # (n_T, P)
        a = (weights.transpose(1, 0, 2)[..., None] * bp[None, :, None, :]).reshape(
            self.m, n_t, n_a * n_p)
        poly = np.matmul(a, np.ascontiguousarray(y))
        out = out.reshape(n_t, self.m, n_d) + poly.transpose(1, 0, 2)
        mi, ei = self.exact
        if mi.size:
            # dense (M, U, n_T) over the chunk's union U of exact pairs, then one batched GEMM
            # with the U rotation columns (a sparse product is ~10× slower here)
            union, col = np.unique(ei, return_inverse=True)
            w_rows = np.ascontiguousarray(weights.transpose(1, 2, 0)).reshape(-1, n_t)
            data = np.take(w_rows, mi * n_a + ei // n_d, axis=0)
            data *= self.z_exact
            data *= f.scale.reshape(-1)[ei, None]
            dense = np.zeros((self.m * union.size, n_t))
            dense[mi * union.size + col] = data
            dense = dense.reshape(self.m, union.size, n_t).transpose(0, 2, 1)
            exact = np.matmul(dense, np.ascontiguousarray(f.rot_flat[:, union].T))
            out += exact.transpose(1, 0, 2)
        return out

    def shell_vectors(self) -> np.ndarray:
        """U_i = R_i x*_i (n_T, M, n_α, N_D), descriptor units (needs ``gradient=True``)."""
        f = self.frames
        n_a, n_d = f.shape
        n_p = self.zc.shape[0]
        zc = (self.zc * f.scale.reshape(-1)).reshape(n_p, self.m, n_a, n_d)
        bp = self.beta[:, None] ** np.arange(n_p)
        z_star = np.einsum("tp,pmij->tmij", bp, zc)  # σ ⊙ z* on polynomial pairs
        u = f.shift[None, None] + np.einsum("tmij,ikj->tmik", z_star, f.rotation)
        mi, ei = self.exact
        if mi.size:
            cols = f.rot_flat[:, ei].T * f.scale.reshape(-1)[ei, None]  # (n_x, N_D)
            contrib = (self.z_exact[:, :, None] * cols[:, None, :]).reshape(mi.size, -1)
            summed = self.groups.sum(contrib).reshape(self.m, n_a, self.beta.size, n_d)
            u += summed.transpose(2, 0, 1, 3)
        return u

    def within_hessian(self, weights: np.ndarray) -> np.ndarray:
        """β Σ_i w_i R_i diag(Nσ² Ĝ″) R_iᵀ, (n_T, M, N_D, N_D); weights (n_T, M, n_α)."""
        f, t = self.frames, self.tables
        n_a, n_d = f.shape
        curv = t.polynomial_curvature(self.y, self.beta) * self.ok
        mi, ei = self.exact
        if mi.size:
            kappa = self.kappa_hat[mi, ei][:, None] * self.beta[None, :]
            curv[:, mi, ei] = t.evaluate(ei[:, None], kappa, second=True)["curv"].T
        dx = curv * (f.n_atoms * f.scale.reshape(-1) ** 2)
        c = dx.reshape(self.beta.size, self.m, n_a, n_d) * weights[..., None]
        c *= self.beta[:, None, None, None]
        return np.einsum("tmij,ikj,ilj->tmkl", c, f.rotation, f.rotation)


class CumulantChunk:
    """Second-order cumulant route (exact for Gaussian densities; no rotation, no score fit)."""

    def __init__(self, mu: np.ndarray, k_mat: np.ndarray, theta: np.ndarray, beta: np.ndarray):
        self.mu, self.k_mat, self.theta, self.beta = mu, k_mat, theta, beta
        a = theta @ mu.T  # (M, n_α) θ·(μ_i − D0)
        self.k_theta = np.einsum("ikl,ml->mik", k_mat, theta)  # K_i θ
        b = np.einsum("mk,mik->mi", theta, self.k_theta)  # θᵀK_iθ
        bb = beta[:, None, None]
        self.terms = ShellTerms(h=bb * a - 0.5 * bb**2 * b, e=a - bb * b, var=None,
                                clamped=np.zeros((beta.size,) + a.shape, dtype=np.int64))
        self.n_exact = 0
        self.n_linear = 0

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        """D* − D0 = Σ_i w_i (μ_i − D0 − βK_iθ), (n_T, M, N_D)."""
        return (np.einsum("tmi,ik->tmk", weights, self.mu)
                - self.beta[:, None, None] * np.einsum("tmi,mik->tmk", weights, self.k_theta))

    def shell_vectors(self) -> np.ndarray:
        return self.mu[None, None] - self.beta[:, None, None, None] * self.k_theta[None]

    def within_hessian(self, weights: np.ndarray) -> np.ndarray:
        return -self.beta[:, None, None, None] * np.einsum("tmi,ikl->tmkl", weights, self.k_mat)
