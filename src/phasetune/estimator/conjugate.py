"""Legendre conjugate tables of every (shell, component) pair (method.md §7, precompute step 2).

Reduced units.  For a component with data mean m, scale σ (x = m + σz) and N atoms,

    G(s) = min_x [s x − S(x)] = s·m + Ĝ(κ)/N,   κ = Nσs,   Ĝ(κ) = min_z [κz − ℓ_env(z)] + ℓ̂,

so x*(s) = m + σ Ĝ′(κ) and dx*/ds = Nσ² Ĝ″(κ).  For every pair e = i·N_D + j the table holds, on
``n_slopes`` uniform κ in [κ_min, κ_max] = [ℓ_env′(z_hi), ℓ_env′(z_lo)]:

* Ĝ, z* = Ĝ′ (so cubic Hermite interpolation of Ĝ uses the exact slope), and the cell cubics;
* v(κ) = γᵀ Cov(â) γ with γ = He(z*) − He(ẑ) (the score variance of S at x*, times N²).

Beyond the table the maximiser sits at a support edge: Ĝ continues linearly with slope z_edge,
exactly the Legendre transform of S restricted to the support, and the pair is flagged clamped.

**Polynomial fast path.**  Each Ĝ_e is also fitted by a polynomial Σ_p g_p y^p in y = κ/κ_sc
(degree ≤ 12) on the widest of [f κ_min, f κ_max], f ∈ {1, ½, ¼}, where it matches the table to
``poly_tol`` (in βF per atom); v_e likewise (no tolerance: error bars only).  As κ = βNσθ̃ is
linear in β, sums Σ_j Ĝ_ij(βNσθ̃_ij) = Σ_p β^p Q_ip then cost O(1) per temperature.  A pair
whose κ lies beyond the table at every temperature of a call is affine in β (the linear
continuation) and joins the same sums; only the rest is evaluated from the table per
temperature (compiled loops in :mod:`.kernels`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.polynomial import chebyshev

from ..scoring.entropy import ell, envelopes, solve_slope
from ..scoring.hermite import hermite_values
from ..scoring.score_matching import ShellFit
from . import kernels

N_SLOPES = 512
POLY_MAX_DEGREE = 12
POLY_TOL = 1e-9
"""Largest |ΔĜ|/N of an accepted polynomial, per (shell, component), βF per atom."""
POLY_RANGES = (1.0, 0.75, 0.5, 0.25)


@dataclass
class Paths:
    """Routing of (model, pair) for one call (see :meth:`ConjugateTables.paths`).

    Attributes:
        q, qv: (P+1, M, n_α) with Σ_j Ĝ_ij = Σ_p β^p q_p and Σ_j v_ij = Σ_p β^p qv_p over the
            polynomial and linear pairs of (model, shell).
        zc: (P, M, E) z*_e = Σ_p β^p zc_p on those pairs (None without gradient).
        clamped: (M, n_α) linear pairs per (model, shell): clamped at every temperature.
        y: (M, E) κ̂/κ_sc on polynomial pairs, else 0.  path: (M, E) 0 polynomial, 1 linear,
            2 table.
        shell, model, pair: (n_x,) the table-path elements, sorted by (shell, model).
    """

    q: np.ndarray
    qv: np.ndarray
    zc: np.ndarray | None
    clamped: np.ndarray
    y: np.ndarray
    path: np.ndarray
    shell: np.ndarray
    model: np.ndarray
    pair: np.ndarray


@dataclass
class ConjugateTables:
    """Conjugates of E = n_α·N_D stacked pairs e = i·N_D + j (see module docstring).

    Attributes:
        n_atoms: N.
        kappa_lo, kappa_hi, step: (E,) table range and spacing in κ.
        cubic: (4, E, n_slopes − 1) cell cubics of Ĝ in t ∈ [0, 1] (c0 + c1t + c2t² + c3t³),
            one contiguous block per coefficient.
        var: (E, n_slopes) v(κ) at the nodes.
        z_hat: (E,) maximiser of ℓ_env (0 for deterministic pairs).
        poly_scale: (E,) κ_sc; poly_lo, poly_hi: (E,) κ range where the polynomials hold.
        poly_G, poly_V: (E, POLY_MAX_DEGREE + 1) coefficients in y = κ/κ_sc.
        deterministic: (E,) bool (Ĝ ≡ 0, κ ≡ 0).
    """

    n_atoms: int
    kappa_lo: np.ndarray
    kappa_hi: np.ndarray
    step: np.ndarray
    cubic: np.ndarray
    var: np.ndarray
    z_hat: np.ndarray
    poly_scale: np.ndarray
    poly_lo: np.ndarray
    poly_hi: np.ndarray
    poly_G: np.ndarray
    poly_V: np.ndarray
    deterministic: np.ndarray

    @property
    def n_slopes(self) -> int:
        return self.var.shape[1]

    @classmethod
    def from_fits(cls, fits: list[ShellFit], n_slopes: int = N_SLOPES,
                  poly_tol: float = POLY_TOL) -> ConjugateTables:
        comps = [f.component(j) for f in fits for j in range(f.n_components)]
        n_atoms = fits[0].n_atoms
        n_e = len(comps)
        det = np.array([c.deterministic for c in comps])
        k_max = max(max((c.degree for c in comps), default=1), 1)
        coef = np.zeros((n_e, k_max))
        cov = np.zeros((n_e, k_max, k_max))
        kap = np.tile(np.linspace(-1.0, 1.0, n_slopes), (n_e, 1))
        lo = np.zeros((n_e, n_slopes))
        hi = np.zeros((n_e, n_slopes))
        z_hat = np.zeros(n_e)
        ell_hat = np.zeros(n_e)
        live = np.flatnonzero(~det)
        for e, env in zip(live, envelopes([comps[e] for e in live]), strict=True):
            c = env.fit
            coef[e, : c.degree] = c.coef
            cov[e, : c.degree, : c.degree] = c.cov
            kap[e] = np.linspace(env.kappa_min, env.kappa_max, n_slopes)
            lo[e], hi[e] = env.brackets(kap[e])
            z_hat[e], ell_hat[e] = env.z_hat, env.ell_hat
        z = solve_slope(coef, kap, lo, hi)
        g = kap * z - ell(coef, z) + ell_hat[:, None]
        with np.errstate(divide="ignore"):
            curv = np.where(hi > lo, 1.0 / ell(coef, z, 2), 0.0)
        gamma = hermite_values(z, k_max)[..., 1:] - hermite_values(z_hat, k_max)[:, None, 1:]
        var = np.sum((gamma @ cov) * gamma, axis=-1)
        g[det], z[det], curv[det], var[det] = 0.0, 0.0, 0.0, 0.0
        step = kap[:, 1] - kap[:, 0]
        cubic = _hermite_cells(g, z, step)
        scale, p_lo, p_hi, p_g, p_v = _fit_polynomials(kap, g, var, cubic, det, n_atoms, poly_tol)
        return cls(n_atoms, kap[:, 0].copy(), kap[:, -1].copy(), step, cubic, var, z_hat, scale,
                   p_lo, p_hi, p_g, p_v, det)

    # ------------------------------------------------------------------------------------------
    # exact (table) evaluation of selected pairs

    def evaluate(self, pairs: np.ndarray, kappa: np.ndarray, second: bool = False):
        """Ĝ, z* = Ĝ′, v, clamped (and Ĝ″ if ``second``) at κ for pairs ``pairs``.

        Args:
            pairs: pair indices e, broadcastable against ``kappa``.
            kappa: slopes κ.

        Returns:
            dict of arrays shaped like ``kappa``: ``G``, ``z``, ``var``, ``clamped`` (bool) and
            optionally ``curv``.  Cubic Hermite interpolation of Ĝ; z* is its derivative, so
            the returned z* is the exact gradient of the returned Ĝ; beyond the table Ĝ
            continues linearly (clamped).
        """
        n_cells = self.n_slopes - 1
        inv_h = 1.0 / self.step[pairs]
        u = kappa * inv_h
        u -= self.kappa_lo[pairs] * inv_h
        uc = np.clip(u, 0.0, n_cells)
        k = uc.astype(np.intp)
        np.minimum(k, n_cells - 1, out=k)
        t = uc - k
        k += pairs * n_cells
        c0, c1, c2, c3 = (np.take(col, k) for col in self.cubic.reshape(4, -1))
        g = c3 * t
        g += c2
        g *= t
        g += c1
        g *= t
        g += c0
        dg = c3 * (3.0 * t)
        dg += 2.0 * c2
        dg *= t
        dg += c1
        u -= uc  # > 0 beyond the table: linear continuation, clamped
        out = {"G": g + u * dg, "z": dg * inv_h, "clamped": u != 0.0}
        k += pairs  # left node in the (E, n_slopes) var table (v varies slowly: no interpolation)
        out["var"] = np.take(self.var, k)
        if second:
            d2 = (2.0 * c2 + 6.0 * t * c3) * inv_h**2
            out["curv"] = np.where(out["clamped"], 0.0, d2)
        return out

    @cached_property
    def cells(self) -> np.ndarray:
        """(E·n_slopes, 5) gather table: row e·n_slopes + k holds (c0, c1, c2, c3, v_k) of cell k
        of pair e; row k = n_slopes − 1 is a constant-slope cell at the last node (c0 = Ĝ, c1 =
        hĜ′, c2 = c3 = 0) with v of the last cell, so t = 0 there reproduces the end of the
        table (and continues it linearly) without a separate clip of the cell index."""
        n_e, n = self.var.shape
        out = np.zeros((n_e, n, 5))
        out[:, :-1, :4] = self.cubic.transpose(1, 2, 0)
        c = self.cubic[:, :, -1]
        out[:, -1, 0] = c[0] + c[1] + c[2] + c[3]
        out[:, -1, 1] = c[1] + 2.0 * c[2] + 3.0 * c[3]
        out[:, :-1, 4] = self.var[:, :-1]
        out[:, -1, 4] = self.var[:, -2]
        return out.reshape(-1, 5)

    @cached_property
    def index_map(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(E,) arrays 1/h, −κ_lo/h and e·n_slopes: the affine map κ → cell coordinate u = κ/h −
        κ_lo/h and the first row of pair e in :attr:`cells`."""
        inv_h = 1.0 / self.step
        return (inv_h, -self.kappa_lo * inv_h,
                np.arange(self.step.size, dtype=np.intp) * self.n_slopes)

    def table_sums(self, pairs: np.ndarray, kappa_hat: np.ndarray, models: np.ndarray,
                   shells: np.ndarray, beta: np.ndarray, sums: np.ndarray, clamped: np.ndarray,
                   z_out: np.ndarray | None = None) -> None:
        """Exact (table) values at κ = βκ̂ for n pairs × n_T temperatures, added per (model,
        shell) in place.

        Same interpolation as :meth:`evaluate` (one row of :attr:`cells` per element; beyond
        the table the constant-slope cell continues Ĝ linearly and the element counts as
        clamped), fused in :func:`.kernels.table_sums`.

        Args:
            pairs: (n,) pair indices e; kappa_hat: (n,) κ̂ = Nσθ̃ (κ = βκ̂), per unit β;
            models, shells: (n,) the (model, shell) of each element, grouped (as
                :meth:`paths` lists them, sorted by shell then model).
            beta: (n_T,) inverse temperatures, eV⁻¹.
            sums: (3, n_T, M, n_α) float, receives Σ Ĝ, Σ κĜ′ and Σ v.
            clamped: (n_T, M, n_α) int64, receives the clamped counts.
            z_out: (n, n_T) float, receives z* = Ĝ′ (skipped if None).
        """
        inv_h, offset, first = self.index_map
        models = np.ascontiguousarray(models, dtype=np.intp)
        shells = np.ascontiguousarray(shells, dtype=np.intp)
        change = (models[1:] != models[:-1]) | (shells[1:] != shells[:-1])
        starts = np.concatenate([[0], np.flatnonzero(change) + 1, [models.size]])
        kernels.table_sums(np.ascontiguousarray(pairs, dtype=np.intp),
                           np.ascontiguousarray(kappa_hat, dtype=float), models, shells, starts,
                           np.ascontiguousarray(beta, dtype=float), self.cells, inv_h, offset,
                           first, float(self.n_slopes - 1), sums, clamped,
                           np.empty((0, 0)) if z_out is None else z_out)

    # ------------------------------------------------------------------------------------------
    # routing: polynomial fast path, linear continuation beyond the table, table path

    @cached_property
    def edges(self) -> np.ndarray:
        """(2, 4, E): for the low (0) and high (1) table edge of every pair, (κ_edge, Ĝ(κ_edge),
        z_edge = Ĝ′(κ_edge), v) as the table path continues them (v of the edge cell)."""
        cells = self.cells.reshape(self.step.size, self.n_slopes, 5)
        out = np.empty((2, 4, self.step.size))
        for side, (kappa, row) in enumerate(((self.kappa_lo, cells[:, 0]),
                                             (self.kappa_hi, cells[:, -1]))):
            out[side] = kappa, row[:, 0], row[:, 1] / self.step, row[:, 4]
        return out

    def paths(self, kappa_hat: np.ndarray, beta_min: float, beta_max: float, n_d: int,
              gradient: bool = False, linear: bool = True) -> Paths:
        """Route each (model, pair) for κ = βκ̂ over [β_min, β_max] and form the T-independent
        sums (:func:`.kernels.path_sums`): polynomial pairs, and pairs beyond the table at
        every β (affine in β: Ĝ = Ĝ_e + z_e(βκ̂ − κ_e), clamped; ``linear=False`` sends them to
        the table path instead, for tests).

        Args:
            kappa_hat: (M, E) κ̂ = Nσθ̃, per unit β.  n_d: components per shell.
            gradient: also return the z* coefficients.
        """
        m, n_e = kappa_hat.shape
        n_a = n_e // n_d
        g_t, v_t, dz_t = self.poly_rows
        n_p = g_t.shape[0]
        q, qv = np.empty((n_p, m, n_a)), np.empty((n_p, m, n_a))
        zc = np.zeros((n_p - 1, m, n_e)) if gradient else None
        clamped = np.empty((m, n_a), dtype=np.int64)
        y = np.empty((m, n_e))
        path = np.empty((m, n_e), dtype=np.int8)
        ex = np.empty((3, m * n_e), dtype=np.intp)
        n_x = kernels.path_sums(np.ascontiguousarray(kappa_hat, dtype=float), float(beta_min),
                                float(beta_max), self.poly_lo, self.poly_hi, self.poly_scale,
                                self.kappa_lo, self.kappa_hi, self.edges, g_t, v_t, dz_t, n_d,
                                linear, q, qv, np.empty((0, 0, 0)) if zc is None else zc,
                                clamped, y, path, ex[0], ex[1], ex[2])
        return Paths(q, qv, zc, clamped, y, path, *ex[:, :n_x].copy())

    @cached_property
    def poly_rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(P+1, E) coefficient rows of Ĝ and v, and (P, E) rows of z* = dĜ/dκ, in powers of y."""
        n_p = self.poly_G.shape[1]
        # z* = Σ_p p g_p (βy)^{p−1}/κ_sc = Σ_{p'} β^{p'} [(p'+1) g_{p'+1}/κ_sc] y^{p'}
        dz = self.poly_G[:, 1:] * np.arange(1, n_p) / self.poly_scale[:, None]
        return (np.ascontiguousarray(self.poly_G.T), np.ascontiguousarray(self.poly_V.T),
                np.ascontiguousarray(dz.T))

    def polynomial_curvature(self, y: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Ĝ″ on the polynomial path at all temperatures: y (M, E), beta (n_T,) → (n_T, M, E)."""
        n_p = self.poly_G.shape[1]
        p = np.arange(2, n_p)
        c2 = self.poly_G[:, 2:] * (p * (p - 1)) / self.poly_scale[:, None] ** 2
        arg = beta[:, None, None] * y
        return np.sum(c2 * arg[..., None] ** (p - 2), axis=-1)


def _hermite_cells(g: np.ndarray, z: np.ndarray, step: np.ndarray) -> np.ndarray:
    """(4, E, n−1) cubic Hermite coefficients in t of each cell from values and slopes."""
    h = step[:, None]
    g0, g1 = g[:, :-1], g[:, 1:]
    d0, d1 = z[:, :-1] * h, z[:, 1:] * h
    return np.stack([g0, d0, 3.0 * (g1 - g0) - 2.0 * d0 - d1, 2.0 * (g0 - g1) + d0 + d1])


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Batched solve of a (e, n, n) x = b (e, n)."""
    return np.linalg.solve(a, b[..., None])[..., 0]


_CHEB_TO_MONO = np.array([np.pad(chebyshev.cheb2poly(row), (0, POLY_MAX_DEGREE + 1))
                          [: POLY_MAX_DEGREE + 1] for row in np.eye(POLY_MAX_DEGREE + 1)])
"""Row p: monomial coefficients of the Chebyshev polynomial T_p."""


def _fit_polynomials(kap, g, var, cubic, det, n_atoms, tol, block: int = 256):
    """Least-squares polynomials of Ĝ and v in y = κ/κ_sc (see the module docstring).

    Fitted in the Chebyshev basis on [−1, 1] (well-conditioned normal equations), checked at the
    table nodes and cell midpoints (cubic Hermite values), converted to monomials in y."""
    n_e = kap.shape[0]
    n_p = POLY_MAX_DEGREE + 1
    mid_g = cubic[0] + 0.5 * cubic[1] + 0.25 * cubic[2] + 0.125 * cubic[3]
    k_all = np.concatenate([kap, 0.5 * (kap[:, 1:] + kap[:, :-1])], axis=1)
    g_all = np.concatenate([g, mid_g], axis=1)
    v_all = np.concatenate([var, 0.5 * (var[:, 1:] + var[:, :-1])], axis=1)
    coef_g, coef_v = np.zeros((n_e, n_p)), np.zeros((n_e, n_p))
    scale = np.ones(n_e)
    p_lo, p_hi = np.full(n_e, -1.0), np.full(n_e, 1.0)
    done = det.copy()
    for frac in POLY_RANGES:
        todo_all = np.flatnonzero(~done)
        for start in range(0, todo_all.size, block):
            idx = todo_all[start : start + block]
            lo, hi = frac * kap[idx, :1], frac * kap[idx, -1:]
            sc = np.maximum(np.abs(lo), np.abs(hi))
            inside = ((k_all[idx] >= lo) & (k_all[idx] <= hi)).astype(float)
            cheb = chebyshev.chebvander(np.clip(k_all[idx] / sc, -1.0, 1.0), n_p - 1)
            cheb *= inside[..., None]
            cheb_t = np.ascontiguousarray(cheb.transpose(0, 2, 1))
            gram = cheb_t @ cheb
            rhs_g = (cheb_t @ g_all[idx][..., None])[..., 0]
            rhs_v = (cheb_t @ v_all[idx][..., None])[..., 0]
            target = g_all[idx] * inside
            for deg in range(2, n_p, 2):
                s = slice(0, deg + 1)
                c = _solve(gram[:, s, s], rhs_g[:, s])
                err = np.max(np.abs((cheb[..., s] @ c[..., None])[..., 0] - target), axis=1)
                good = (err / n_atoms <= tol) & ~done[idx]
                sel = idx[good]
                coef_g[sel] = c[good] @ _CHEB_TO_MONO[s]
                coef_v[sel] = _solve(gram[good], rhs_v[good]) @ _CHEB_TO_MONO
                scale[sel], p_lo[sel], p_hi[sel] = sc[good, 0], lo[good, 0], hi[good, 0]
                done[sel] = True
    # Ĝ(0) = 0 and v(0) = 0 exactly (z*(0) = ẑ): pin the constants, so a zero tilt (e.g. the
    # harmonic reference itself) is exact; this at most doubles the fit error.
    zero = (p_lo <= 0.0) & (p_hi >= 0.0)
    coef_g[zero, 0] = 0.0
    coef_v[zero, 0] = 0.0
    # pairs with no acceptable polynomial: empty range, always the table path
    p_lo[~done], p_hi[~done] = np.inf, -np.inf
    return scale, p_lo, p_hi, coef_g, coef_v
