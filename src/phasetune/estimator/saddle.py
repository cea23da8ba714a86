"""The α saddle and the assembly of F, s, σ_F and D* (method.md §2.4, §7 per-call steps 3–8).

Given per-shell values h_i(θ, β) = Σ_j G_ij (dimensionless, per atom), their β-derivatives
e_i = ∂h_i/∂β (eV: θ·(x̄*_i) with x̄*_i the tilted mean displacement of shell i) and variances:

    f(α) = −S_α(α, T) + (Lh)(α),   α* = argmin f,   F_vib = k_BT f(α*)
    s = −∂F/∂T = −F_vib/T + (r/2)k_B + θ·(D* − D0)/T,   θ·(D* − D0) = Σ_i w_i(α*) e_i
    σ_F = k_BT [Σ_i w_i(α*)² var_i]^{1/2}

(the entropy form follows from the envelope theorem and is F_total + Ts = β0 + θ·D* + (r/2)k_BT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import KB
from ..harmonic.free_energy import shell_log_density
from .prediction import ALPHA_HIGH, ALPHA_LOW, NOT_CONVERGED
from .smoother import AlphaSmoother

NEWTON_ITERATIONS = 30


@dataclass
class Saddle:
    """Solution of min_α f(α) for n problems: α*, f_smooth = (Lh)(α*), f″(α*), w(α*), status."""

    alpha: np.ndarray
    f_smooth: np.ndarray
    f2: np.ndarray
    weights: np.ndarray
    status: np.ndarray


def interior_minimum(values: np.ndarray) -> np.ndarray:
    """Index of the saddle on each row of ``values`` (n, n_dense): the lowest interior local
    minimum, else the global minimum (an edge, flagged unsolved by the caller).

    At large α the second-order fluctuation term of h falls like −e^{2α} and can overtake the
    energy term, so f(α) may turn down again at the top of the grid.  That descent lies outside
    the validity of the saddle approximation; the physical saddle is the interior minimum.
    """
    inner = (values[:, 1:-1] < values[:, :-2]) & (values[:, 1:-1] <= values[:, 2:])
    masked = np.where(inner, values[:, 1:-1], np.inf)
    k = np.argmin(masked, axis=1) + 1
    none = ~inner.any(axis=1)
    k[none] = np.argmin(values[none], axis=1)
    return k


class SaddleSolver:
    """Dense-grid argmin refined by safeguarded Newton, for f(α) = −(r/2)α + (Lh)(α) + const(T).

    Args:
        smoother: the α smoother over the shell grid.
        r: modes per atom (slope of −S_α in α is −r/2).
        n_dense: dense grid points (default 8 per shell, at least 64).
    """

    def __init__(self, smoother: AlphaSmoother, r: float, n_dense: int | None = None):
        a = smoother.alphas
        self.smoother = smoother
        self.r = float(r)
        self.dense = np.linspace(a[0], a[-1], n_dense or max(64, 8 * a.size))
        self.dense_basis = smoother.basis(self.dense)
        self.inner_lo = a[0] + 0.5 * (a[1] - a[0])
        self.inner_hi = a[-1] - 0.5 * (a[-1] - a[-2])

    def solve(self, h: np.ndarray) -> Saddle:
        """h: (n, n_α) shell values → Saddle with arrays of length n."""
        coef = h @ self.smoother.coefficient_operator.T  # (n, P+1)
        values = coef @ self.dense_basis.T - 0.5 * self.r * self.dense
        k = interior_minimum(values)
        last = self.dense.size - 1
        lo = self.dense[np.maximum(k - 1, 0)]
        hi = self.dense[np.minimum(k + 1, last)]
        alpha = self.dense[k].copy()
        converged = np.zeros(alpha.shape, dtype=bool)
        for _ in range(NEWTON_ITERATIONS):
            g1 = np.einsum("np,np->n", coef, self.smoother.basis(alpha, 1)) - 0.5 * self.r
            g2 = np.einsum("np,np->n", coef, self.smoother.basis(alpha, 2))
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(g2 > 0, -g1 / g2, 0.0)
            new = np.clip(alpha + step, lo, hi)
            converged = (np.abs(new - alpha) <= 1e-13 * (1.0 + np.abs(alpha))) & (g2 > 0)
            alpha = new
            if converged.all():
                break
        b0 = self.smoother.basis(alpha)
        g2 = np.einsum("np,np->n", coef, self.smoother.basis(alpha, 2))
        status = np.zeros(alpha.shape, dtype=np.int64)
        status[alpha <= self.inner_lo] |= ALPHA_LOW
        status[alpha >= self.inner_hi] |= ALPHA_HIGH
        at_edge = (alpha == self.dense[0]) | (alpha == self.dense[-1])
        status[~converged & ~at_edge] |= NOT_CONVERGED
        return Saddle(alpha, np.einsum("np,np->n", coef, b0), g2,
                      b0 @ self.smoother.coefficient_operator, status)


@dataclass
class ShellTerms:
    """Per-shell inputs of the saddle, arrays (n_T, M, n_α): h (dimensionless), e = ∂h/∂β (eV),
    var (dimensionless², or None) and clamped-pair counts (int)."""

    h: np.ndarray
    e: np.ndarray
    var: np.ndarray | None
    clamped: np.ndarray


def assemble(solver: SaddleSolver, terms: ShellTerms, temperatures: np.ndarray, reference,
             r: float) -> dict:
    """Solve the α saddle for every (T, model) and return the §7 outputs (n_T, M) as a dict,
    with the saddle weights w (n_T, M, n_α) under ``"weights"`` and f″ under ``"f2"``."""
    n_t, m, n_a = terms.h.shape
    sad = solver.solve(terms.h.reshape(-1, n_a))
    alpha = sad.alpha.reshape(n_t, m)
    w = sad.weights.reshape(n_t, m, n_a)
    kt = (KB * temperatures)[:, None]
    s_alpha = shell_log_density(alpha, temperatures[:, None], reference.mass,
                                reference.omega_bar, reference.mean_log_nu, r)
    f_vib = kt * (sad.f_smooth.reshape(n_t, m) - s_alpha)
    energy = np.einsum("tmi,tmi->tm", w, terms.e)
    entropy = -f_vib / temperatures[:, None] + 0.5 * r * KB + energy / temperatures[:, None]
    if terms.var is None:
        sigma = np.full((n_t, m), np.nan)
    else:
        sigma = kt * np.sqrt(np.clip(np.einsum("tmi,tmi->tm", w**2, terms.var), 0.0, None))
    # clamped pairs on the two shells bracketing α*
    i_lo = np.clip(np.searchsorted(solver.smoother.alphas, alpha) - 1, 0, n_a - 2)
    n_clamped = (np.take_along_axis(terms.clamped, i_lo[..., None], 2)[..., 0]
                 + np.take_along_axis(terms.clamped, i_lo[..., None] + 1, 2)[..., 0])
    return {"alpha": alpha, "weights": w, "f2": sad.f2.reshape(n_t, m), "F_vib": f_vib,
            "entropy": entropy, "sigma_F": sigma, "status": sad.status.reshape(n_t, m),
            "n_clamped": n_clamped}
