"""The α saddle and the assembly of F, s, σ_F and D* (method.md §2.4, §7 per-call steps 3–8).

Given per-shell values h_i(θ, β) = Σ_j G_ij (dimensionless, per atom), their β-derivatives
e_i = ∂h_i/∂β (eV: θ·(x̄*_i) with x̄*_i the tilted mean displacement of shell i) and variances:

    f(α) = −S_α(α, T) + (Lh)(α),   α* = argmin f,   F_vib = k_BT f(α*)
    s = −∂F/∂T = −F_vib/T + (r/2)k_B + θ·(D* − D0)/T,   θ·(D* − D0) = Σ_i w_i(α*) e_i
    σ_F = k_BT [Σ_i w_i(α*)² var_i]^{1/2} · B,   B = max(1, (χ²/dof)^{1/2}) of the local smoother

(B, the Birge ratio, widens σ_F where the shell values scatter about the smooth h(α) more than
their errors allow: then the smoothing model, not the sampling, limits F).

(the entropy form follows from the envelope theorem and is F_total + Ts = β0 + θ·D* + (r/2)k_BT).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import KB
from ..harmonic.free_energy import shell_log_density
from .prediction import ALPHA_HIGH, ALPHA_LOW, NOT_CONVERGED
from .smoother import DEFAULT_DEGREE, AlphaSmoother

NEWTON_ITERATIONS = 30


WINDOW = 9
"""Shells per local α smoother.  One polynomial over a wide shell grid is pulled by far shells
(whose tilted terms can fall steeply, see :func:`interior_minimum`) and biases f near α* by up
to ~1 meV/atom (validation against TI, docs/validation.md); a window of the shells around the
saddle removes that while keeping the least-squares smoothing of the shell noise."""


@dataclass
class Saddle:
    """Solution of min_α f(α) for n problems: α*, f_smooth = (Lh)(α*), f″(α*), the saddle
    weights w(α*) and w′(α*) over all shells (zero outside the local window), status."""

    alpha: np.ndarray
    f_smooth: np.ndarray
    f2: np.ndarray
    weights: np.ndarray
    dweights: np.ndarray
    status: np.ndarray
    birge: np.ndarray | None = None
    """Lack-of-fit factor of the local smoother, max(1, (χ²/dof)^{1/2}) with χ² = Σ_i (h_i −
    (Lh)(α_i))²/var_i over the window; None without shell variances."""


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


class _Window:
    """One local smoother over shells [start, start + size) with its dense grid."""

    def __init__(self, alphas: np.ndarray, start: int, size: int, degree: int, n_dense: int):
        self.start, self.stop = start, start + size
        self.smoother = AlphaSmoother(alphas[start:start + size], degree)
        a = self.smoother.alphas
        self.dense = np.linspace(a[0], a[-1], n_dense)
        self.dense_basis = self.smoother.basis(self.dense)
        self.hat = self.smoother.basis(a) @ self.smoother.coefficient_operator
        """(size, size) fitted shell values (Lh)(α_i) = hat @ h (for the lack-of-fit test)."""


class SaddleSolver:
    """Dense-grid argmin refined by safeguarded Newton, for f(α) = −(r/2)α + (Lh)(α) + const(T),
    with h smoothed over a window of ``window`` shells around the saddle.

    The window is centred on the lowest interior minimum of the raw shell values
    f_i = h_i − (r/2)α_i; if the smoothed minimum falls on a window edge that is not an edge of
    the shell grid, the window moves one shell that way (at most ``n_α`` times).

    Args:
        alphas: (n_α,) increasing shell labels.
        r: modes per atom (slope of −S_α in α is −r/2).
        degree: Legendre degree of each local smoother.
        window: shells per local smoother (all shells if there are fewer).
        n_dense: dense grid points per window (default 8 per shell, at least 64).
    """

    def __init__(self, alphas: np.ndarray, r: float, degree: int = DEFAULT_DEGREE,
                 window: int = WINDOW, n_dense: int | None = None):
        a = np.asarray(alphas, dtype=float)
        self.alphas = a
        self.r = float(r)
        self.size = int(min(max(window, 2), a.size))
        n_dense = n_dense or max(64, 8 * self.size)
        self.windows = [_Window(a, s, self.size, degree, n_dense)
                        for s in range(a.size - self.size + 1)]
        self.inner_lo = a[0] + 0.5 * (a[1] - a[0])
        self.inner_hi = a[-1] - 0.5 * (a[-1] - a[-2])

    def _start(self, h: np.ndarray) -> np.ndarray:
        raw = h - 0.5 * self.r * self.alphas
        k = interior_minimum(raw)
        return np.clip(k - self.size // 2, 0, len(self.windows) - 1)

    def solve(self, h: np.ndarray, var: np.ndarray | None = None) -> Saddle:
        """h: (n, n_α) shell values (and optionally their variances) → Saddle, arrays of
        length n."""
        n, n_a = h.shape
        start = self._start(h)
        alpha, f_smooth, f2 = np.empty(n), np.empty(n), np.empty(n)
        weights, dweights = np.zeros((n, n_a)), np.zeros((n, n_a))
        status = np.zeros(n, dtype=np.int64)
        todo = np.arange(n)
        for attempt in range(n_a):
            if todo.size == 0:
                break
            moved = []
            for s in np.unique(start[todo]):
                rows = todo[start[todo] == s]
                win = self.windows[s]
                out = self._solve_window(win, h[rows, win.start:win.stop])
                low_edge = (out[0] == win.dense[0]) & (s > 0)
                high_edge = (out[0] == win.dense[-1]) & (s < len(self.windows) - 1)
                shift = np.where(low_edge, -1, np.where(high_edge, 1, 0))
                # after n_α moves the window is oscillating: keep its answer, flagged
                keep = (shift == 0) | (attempt == n_a - 1)
                r_keep = rows[keep]
                alpha[r_keep], f_smooth[r_keep], f2[r_keep] = (x[keep] for x in out[:3])
                weights[r_keep, win.start:win.stop] = out[3][keep]
                dweights[r_keep, win.start:win.stop] = out[4][keep]
                status[r_keep] = out[5][keep] | np.where(shift[keep] != 0, NOT_CONVERGED, 0)
                start[rows[~keep]] += shift[~keep]
                moved.append(rows[~keep])
            todo = np.concatenate(moved)
        status[alpha <= self.inner_lo] |= ALPHA_LOW
        status[alpha >= self.inner_hi] |= ALPHA_HIGH
        birge = None if var is None else self._birge(h, var, start)
        return Saddle(alpha, f_smooth, f2, weights, dweights, status, birge)

    def _birge(self, h: np.ndarray, var: np.ndarray, start: np.ndarray) -> np.ndarray:
        """Lack of fit of each row's final window (see :attr:`Saddle.birge`): shell values that
        scatter about the smooth h(α) more than their own errors allow mean the smoothing model,
        not only the sampling, limits F; σ_F is scaled by this factor (Birge ratio)."""
        out = np.ones(len(h))
        for s in np.unique(start):
            rows = np.flatnonzero(start == s)
            win = self.windows[s]
            sm = win.smoother
            dof = win.stop - win.start - (sm.degree + 1)
            if dof <= 0:
                continue
            hw = h[rows, win.start:win.stop]
            residual = hw - hw @ win.hat.T
            with np.errstate(divide="ignore", invalid="ignore"):
                chi2 = np.where(var[rows, win.start:win.stop] > 0,
                                residual**2 / var[rows, win.start:win.stop], 0.0).sum(axis=1)
            out[rows] = np.maximum(1.0, np.sqrt(chi2 / dof))
        return out

    def _solve_window(self, win: _Window, h: np.ndarray) -> tuple:
        """(α*, f_smooth, f″, w, w′, status without the α-edge bits) on one window."""
        sm = win.smoother
        coef = h @ sm.coefficient_operator.T  # (n, P+1)
        values = coef @ win.dense_basis.T - 0.5 * self.r * win.dense
        k = interior_minimum(values)
        last = win.dense.size - 1
        lo = win.dense[np.maximum(k - 1, 0)]
        hi = win.dense[np.minimum(k + 1, last)]
        alpha = win.dense[k].copy()
        converged = np.zeros(alpha.shape, dtype=bool)
        for _ in range(NEWTON_ITERATIONS):
            g1 = np.einsum("np,np->n", coef, sm.basis(alpha, 1)) - 0.5 * self.r
            g2 = np.einsum("np,np->n", coef, sm.basis(alpha, 2))
            with np.errstate(divide="ignore", invalid="ignore"):
                step = np.where(g2 > 0, -g1 / g2, 0.0)
            new = np.clip(alpha + step, lo, hi)
            converged = (np.abs(new - alpha) <= 1e-13 * (1.0 + np.abs(alpha))) & (g2 > 0)
            alpha = new
            if converged.all():
                break
        b0 = sm.basis(alpha)
        g2 = np.einsum("np,np->n", coef, sm.basis(alpha, 2))
        status = np.zeros(alpha.shape, dtype=np.int64)
        at_edge = (alpha == win.dense[0]) | (alpha == win.dense[-1])
        status[~converged & ~at_edge] |= NOT_CONVERGED
        return (alpha, np.einsum("np,np->n", coef, b0), g2, b0 @ sm.coefficient_operator,
                sm.weights(alpha, 1), status)


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
    with the saddle weights w and w′ (n_T, M, n_α) under ``"weights"``/``"dweights"`` and f″
    under ``"f2"``."""
    n_t, m, n_a = terms.h.shape
    var = None if terms.var is None else terms.var.reshape(-1, n_a)
    sad = solver.solve(terms.h.reshape(-1, n_a), var)
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
        sigma = sigma * sad.birge.reshape(n_t, m)
    # clamped pairs on the two shells bracketing α*
    i_lo = np.clip(np.searchsorted(solver.alphas, alpha) - 1, 0, n_a - 2)
    n_clamped = (np.take_along_axis(terms.clamped, i_lo[..., None], 2)[..., 0]
                 + np.take_along_axis(terms.clamped, i_lo[..., None] + 1, 2)[..., 0])
    return {"alpha": alpha, "weights": w, "dweights": sad.dweights.reshape(n_t, m, n_a),
            "f2": sad.f2.reshape(n_t, m), "F_vib": f_vib,
            "entropy": entropy, "sigma_F": sigma, "status": sad.status.reshape(n_t, m),
            "n_clamped": n_clamped}
