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
from ..conventions import Conventions
from ..model import HarmonicReference
from . import kernels
from .kinetic import ReferenceEntropy
from .prediction import ALPHA_HIGH, ALPHA_LOW, NOT_CONVERGED
from .smoother import DEFAULT_DEGREE, AlphaSmoother

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
    return kernels.interior_minima(np.ascontiguousarray(values, dtype=float))


class SaddleSolver:
    """Dense-grid argmin refined by safeguarded Newton, for f(α) = −(r/2)α + (Lh)(α) + const(T),
    with h smoothed over a window of ``window`` shells around the saddle.  Another shell measure
    m(α) (f = −m(α) + (Lh)(α), unsmoothed) is given as ``measure`` = (centre, half-width, n_c,
    c_0 … c_{n_c−1}, d_1, d_2, …) with m = Σ_q c_q u^q + Σ_k d_k e^{kα},
    u = (α − centre)/half-width (the kinetic shells' s_ref, method.md §4.5).

    The window is centred on the lowest interior minimum of the raw shell values
    f_i = h_i − (r/2)α_i; if the smoothed minimum falls on a window edge that is not an edge of
    the shell grid, the window moves one shell that way (at most ``n_α`` times).  The search
    runs row by row in :func:`.kernels.solve_saddles`.

    Args:
        alphas: (n_α,) increasing shell labels.
        r: modes per atom (slope of −S_α in α is −r/2).
        degree: Legendre degree of each local smoother.
        window: shells per local smoother (all shells if there are fewer).
        n_dense: dense grid points per window (default 4 per shell, at least 32: the
            smoothed f is a low-degree polynomial times e^α, so finer grids find the same
            minimum).
        measure: the shell measure polynomial (default (r/2)α).
    """

    def __init__(self, alphas: np.ndarray, r: float, degree: int = DEFAULT_DEGREE,
                 window: int = WINDOW, n_dense: int | None = None,
                 measure: np.ndarray | None = None):
        a = np.asarray(alphas, dtype=float)
        self.alphas = a
        self.r = float(r)
        self.measure = (np.array([0.0, 1.0, 2.0, 0.0, 0.5 * self.r]) if measure is None
                        else np.ascontiguousarray(measure, dtype=float))
        m = self.measure
        if (m.ndim != 1 or m.size < 4 or not m[1] > 0 or m[2] != int(m[2]) or m[2] < 1
                or m.size < 3 + m[2]):
            raise ValueError("measure must be (centre, half-width > 0, n_c ≥ 1, c_0 … "
                             "c_{n_c−1}, d_1, …)")
        self.size = int(min(max(window, 2), a.size))
        n_dense = n_dense or max(32, 4 * self.size)
        smoothers = [AlphaSmoother(a[s:s + self.size], degree)
                     for s in range(a.size - self.size + 1)]
        # per window: monomial operator M (a = M h_window, f = e^α Σ_p a_p t^p), t-map, dense
        # grid and the hat matrix (Lh)(α_i) = hat @ h of the lack-of-fit test
        self.mono_ops = np.stack([sm.to_monomial.T @ sm.coefficient_operator
                                  for sm in smoothers])
        self.mids = np.array([sm.mid for sm in smoothers])
        self.halves = np.array([sm.half for sm in smoothers])
        self.dense = np.stack([np.linspace(sm.alphas[0], sm.alphas[-1], n_dense)
                               for sm in smoothers])
        self.dense_t = (self.dense - self.mids[:, None]) / self.halves[:, None]
        # the measure on the shells and the dense grids (T-independent, computed once)
        self.m_shell = np.array([kernels.measure_value(self.measure, x) for x in a])
        self.m_dense = np.array([[kernels.measure_value(self.measure, x) for x in row]
                                 for row in self.dense])
        self.exp_dense = np.exp(self.dense)
        self.hats = np.stack([sm.basis(sm.alphas) @ sm.coefficient_operator for sm in smoothers])
        self.dof = self.size - (smoothers[0].degree + 1)
        self.inner_lo = a[0] + 0.5 * (a[1] - a[0])
        self.inner_hi = a[-1] - 0.5 * (a[-1] - a[-2])

    def solve(self, h: np.ndarray, var: np.ndarray | None = None) -> Saddle:
        """h: (n, n_α) shell values (and optionally their variances) → Saddle, arrays of
        length n."""
        h = np.ascontiguousarray(h, dtype=float)
        n, n_a = h.shape
        alpha, f_smooth, f2, birge = (np.empty(n) for _ in range(4))
        weights, dweights = np.zeros((n, n_a)), np.zeros((n, n_a))
        status = np.zeros(n, dtype=np.int64)
        v = np.empty((0, 0)) if var is None else np.ascontiguousarray(var, dtype=float)
        kernels.solve_saddles(h, v, self.alphas, self.measure, self.m_shell, self.m_dense,
                              self.size, self.mono_ops, self.mids,
                              self.halves, self.dense, self.dense_t, self.exp_dense, self.hats,
                              self.dof, NOT_CONVERGED, alpha, f_smooth, f2, weights, dweights,
                              status, birge)
        status[alpha <= self.inner_lo] |= ALPHA_LOW
        status[alpha >= self.inner_hi] |= ALPHA_HIGH
        return Saddle(alpha, f_smooth, f2, weights, dweights, status,
                      None if var is None else birge)


@dataclass
class ShellTerms:
    """Per-shell inputs of the saddle, arrays (n_T, M, n_α): h (dimensionless), e = ∂h/∂β (eV),
    var (dimensionless², or None) and clamped-pair counts (int)."""

    h: np.ndarray
    e: np.ndarray
    var: np.ndarray | None
    clamped: np.ndarray


def assemble(solver: SaddleSolver, terms: ShellTerms, temperatures: np.ndarray,
             reference: HarmonicReference, conventions: Conventions,
             kinetic: ReferenceEntropy | None = None) -> dict:
    """Solve the α saddle for every (T, model) and return the §7 outputs (n_T, M) as a dict,
    with the saddle weights w and w′ (n_T, M, n_α) under ``"weights"``/``"dweights"`` and f″
    under ``"f2"``.

    With ``kinetic`` (kinetic shells, method.md §4.5; ``solver`` built with its measure) the
    shell measure is s_ref(α), T-independent: F_vib = k_BT[(Lh)(α*) − s_ref(α*)], the energy
    θ·(D* − D0) includes the kinetic energy, so s = (−F_vib + θ·(D* − D0))/T, and σ_F adds
    k_BT σ(s_ref(α*)) in quadrature."""
    n_t, m, n_a = terms.h.shape
    var = None if terms.var is None else terms.var.reshape(-1, n_a)
    sad = solver.solve(terms.h.reshape(-1, n_a), var)
    alpha = sad.alpha.reshape(n_t, m)
    w = sad.weights.reshape(n_t, m, n_a)
    kt = (KB * temperatures)[:, None]
    energy = np.einsum("tmi,tmi->tm", w, terms.e)
    if kinetic is None:
        r = reference.modes_per_atom(conventions)
        s_alpha = reference.shell_log_density(alpha, temperatures[:, None], conventions)
        momenta = 0.5 * r * KB
    else:
        s_alpha = kinetic.value(alpha)
        momenta = 0.0
    f_vib = kt * (sad.f_smooth.reshape(n_t, m) - s_alpha)
    entropy = -f_vib / temperatures[:, None] + momenta + energy / temperatures[:, None]
    if terms.var is None:
        sigma = np.full((n_t, m), np.nan)
    else:
        sigma = kt * np.sqrt(np.clip(np.einsum("tmi,tmi->tm", w**2, terms.var), 0.0, None))
        sigma = sigma * sad.birge.reshape(n_t, m)
    if kinetic is not None:
        sigma = np.hypot(sigma, kt * kinetic.sigma(alpha))
    # clamped pairs on the two shells bracketing α*
    i_lo = np.clip(np.searchsorted(solver.alphas, alpha) - 1, 0, n_a - 2)
    n_clamped = (np.take_along_axis(terms.clamped, i_lo[..., None], 2)[..., 0]
                 + np.take_along_axis(terms.clamped, i_lo[..., None] + 1, 2)[..., 0])
    return {"alpha": alpha, "weights": w, "dweights": sad.dweights.reshape(n_t, m, n_a),
            "f2": sad.f2.reshape(n_t, m), "F_vib": f_vib,
            "entropy": entropy, "sigma_F": sigma, "status": sad.status.reshape(n_t, m),
            "n_clamped": n_clamped}
