"""Per-atom conditional entropy S_j(x|α) of one frame component (method.md §6 steps 4–5).

S_j(x|α) = [ℓ_env(z) − ℓ_env(ẑ)]/N with z = (x − m_j)/s_j, where ℓ_env is the concave envelope
of the fitted score ℓ on the sampled support [z_lo, z_hi] and ẑ its maximiser, so max S_j = 0
(normalised to its maximum, not to unit integral).  Outside the support S_j = −∞.

The envelope is the upper convex hull of ℓ sampled on a fine grid: where ℓ is concave all grid
points are hull vertices and ℓ_env = ℓ exactly; non-concave stretches are bridged by straight
segments ("bridges").  Slopes κ = dℓ_env/dz are found exactly by safeguarded Newton on ℓ′.
"""

from __future__ import annotations

import numpy as np

from .hermite import hermite_series, hermite_values
from .score_matching import ComponentFit

N_GRID = 1025
"""Grid points of the hull over the support."""


def ell(coef: np.ndarray, z: np.ndarray, deriv: int = 0) -> np.ndarray:
    """ℓ^{(deriv)}(z) for stacked components: coef (m, K) = a_1 … a_K, z (m, ...) → (m, ...)."""
    full = np.concatenate([np.zeros(coef.shape[:1] + (1,)), coef], axis=1)
    z = np.asarray(z, dtype=float)
    return hermite_series(full.reshape(full.shape[:1] + (1,) * (z.ndim - 1) + full.shape[1:]),
                          z, deriv)


def upper_hull(y: np.ndarray) -> np.ndarray:
    """Indices of the upper convex hull of points (i·h, y_i) (uniform abscissae), ascending."""
    hull: list[int] = []
    for i in range(len(y)):
        while len(hull) >= 2:
            i0, i1 = hull[-2], hull[-1]
            # drop i1 if it lies on or below the chord i0 → i
            if (y[i1] - y[i0]) * (i - i0) <= (y[i] - y[i0]) * (i1 - i0):
                hull.pop()
            else:
                break
        hull.append(i)
    return np.array(hull)


def solve_slope(coef: np.ndarray, kappa: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                iterations: int = 80, tol: float = 1e-13) -> np.ndarray:
    """z in [lo, hi] with ℓ′(z) = κ, ℓ′ decreasing on [lo, hi] (safeguarded Newton–bisection).

    Stacked: coef (m, K); kappa, lo, hi (m, n).  Where ℓ′ − κ has no sign change the nearer end
    is returned.  Only unconverged elements are iterated.
    """
    shape = np.broadcast_shapes(np.shape(kappa), np.shape(lo), np.shape(hi))
    rows = np.broadcast_to(np.arange(coef.shape[0]).reshape((-1,) + (1,) * (len(shape) - 1)),
                           shape).ravel()
    kap = np.broadcast_to(kappa, shape).astype(float).ravel()
    lo = np.broadcast_to(lo, shape).astype(float).ravel()
    hi = np.broadcast_to(hi, shape).astype(float).ravel()
    f_lo = ell(coef[rows], lo, 1) - kap
    f_hi = ell(coef[rows], hi, 1) - kap
    z = np.where(f_lo <= 0, lo, np.where(f_hi >= 0, hi, 0.5 * (lo + hi)))
    act = np.flatnonzero((f_lo > 0) & (f_hi < 0))
    a, b, za = lo[act], hi[act], z[act]
    for _ in range(iterations):
        if act.size == 0:
            break
        c = coef[rows[act]]
        f = ell(c, za, 1) - kap[act]
        d = ell(c, za, 2)
        a = np.where(f > 0, za, a)
        b = np.where(f < 0, za, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = za - f / d
        z_new = np.where((newton >= a) & (newton <= b), newton, 0.5 * (a + b))
        width = tol * (1.0 + np.abs(z_new))
        z[act] = z_new
        keep = (np.abs(z_new - za) > width) & (f != 0) & (b - a > width)
        act, a, b, za = act[keep], a[keep], b[keep], z_new[keep]
    return z.reshape(shape)


class ComponentEnvelope:
    """Concave envelope of ℓ on the support of one non-deterministic component.

    Build with :func:`envelopes` (vectorised over components) or ``ComponentEnvelope.of(fit)``.

    Attributes:
        fit: the component's score fit.
        grid: (n_grid,) z grid over [z_lo, z_hi].
        vertices: indices of hull vertices into ``grid``.
        slopes: (n_vertices − 1,) envelope slopes of the hull segments (decreasing).
        bridge: (n_vertices − 1,) True where a segment skips grid points (ℓ not concave there).
        kappa_min, kappa_max: envelope slopes at z_hi and z_lo.
        z_hat, ell_hat: maximiser and maximum of ℓ_env.
    """

    def __init__(self, fit: ComponentFit, grid: np.ndarray, values: np.ndarray, concave: bool,
                 edge_derivs: tuple[float, float]):
        if fit.deterministic:
            raise ValueError("a deterministic component has no envelope")
        self.fit = fit
        self.coef = fit.coef[None, :]
        self.grid = grid
        self.vertices = np.arange(grid.size) if concave else upper_hull(values)
        self.slopes = np.diff(values[self.vertices]) / np.diff(grid[self.vertices])
        self.bridge = np.diff(self.vertices) > 1
        self.kappa_max = float(self.slopes[0] if self.bridge[0] else edge_derivs[0])
        self.kappa_min = float(self.slopes[-1] if self.bridge[-1] else edge_derivs[1])
        self.z_hat = float("nan")
        self.ell_hat = float("nan")

    @classmethod
    def of(cls, fit: ComponentFit, n_grid: int = N_GRID) -> ComponentEnvelope:
        return envelopes([fit], n_grid)[0]

    @property
    def concave(self) -> bool:
        return not self.bridge.any()

    def brackets(self, kappa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Intervals [lo, hi] of z holding z*(κ) = argmax_z [ℓ_env(z) − κz].

        ``kappa`` must lie in [kappa_min, kappa_max].  The hull vertex v with
        slopes[v−1] ≥ κ ≥ slopes[v] is found; its non-bridge neighbours widen the interval (on a
        bridge side z* stays at the vertex)."""
        v = np.searchsorted(-self.slopes, -kappa, side="left")
        nv = len(self.vertices)
        v = np.clip(v, 0, nv - 1)
        left_ok = (v > 0) & ~self.bridge[np.clip(v - 1, 0, nv - 2)]
        right_ok = (v < nv - 1) & ~self.bridge[np.clip(v, 0, nv - 2)]
        g = self.vertices[v]
        return self.grid[np.where(left_ok, g - 1, g)], self.grid[np.where(right_ok, g + 1, g)]

    def argmax_tilted(self, kappa: np.ndarray) -> np.ndarray:
        """z*(κ) = argmax_z [ℓ_env(z) − κ z] on the support (clamped to its ends)."""
        k = np.clip(np.asarray(kappa, dtype=float), self.kappa_min, self.kappa_max)
        lo, hi = self.brackets(k)
        return solve_slope(self.coef, k[None], lo[None], hi[None])[0]

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """ℓ_env(z) on the support (−inf outside)."""
        z = np.asarray(z, dtype=float)
        zv = self.grid[self.vertices]
        seg = np.clip(np.searchsorted(zv, z, side="right") - 1, 0, len(zv) - 2)
        yv = ell(self.coef, zv[None])[0]
        t = (z - zv[seg]) / (zv[seg + 1] - zv[seg])
        chord = yv[seg] + t * (yv[seg + 1] - yv[seg])
        raw = ell(self.coef, z.reshape(1, -1))[0].reshape(z.shape)
        out = np.where(self.bridge[seg], chord, raw)
        return np.where((z < self.fit.z_lo) | (z > self.fit.z_hi), -np.inf, out)

    def entropy(self, x: np.ndarray, n_atoms: int) -> np.ndarray:
        """S_j(x|α) = [ℓ_env(z) − ℓ_env(ẑ)]/N, per atom, for x in analysis coordinates."""
        z = (np.asarray(x, dtype=float) - self.fit.mean) / self.fit.scale
        return (self(z) - self.ell_hat) / n_atoms


def envelopes(fits: list[ComponentFit], n_grid: int = N_GRID) -> list[ComponentEnvelope]:
    """Envelopes of non-deterministic components, grid work and ẑ vectorised over components."""
    k_max = max(max(f.degree for f in fits), 1)
    coef = np.zeros((len(fits), k_max))
    for i, f in enumerate(fits):
        coef[i, : f.degree] = f.coef
    lo = np.array([f.z_lo for f in fits])
    hi = np.array([f.z_hi for f in fits])
    grid = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, n_grid)
    he = hermite_values(grid, k_max)
    values = he[..., 1:] @ coef[:, :, None]
    k = np.arange(k_max + 1)
    second = (he[..., :-2] * (k[2:] * (k[2:] - 1))) @ coef[:, 1:, None]
    concave = np.all(second[..., 0] <= 0.0, axis=1)
    ends = ell(coef, np.stack([lo, hi], axis=1), 1)
    out = [ComponentEnvelope(f, grid[i], values[i, :, 0], bool(concave[i]), tuple(ends[i]))
           for i, f in enumerate(fits)]
    # ẑ: the slope-0 point of the envelope (an end of the support if ℓ_env is monotone there)
    kappa0 = np.array([[np.clip(0.0, e.kappa_min, e.kappa_max)] for e in out])
    brackets = [e.brackets(kappa0[i]) for i, e in enumerate(out)]
    lo0 = np.array([b[0] for b in brackets])
    hi0 = np.array([b[1] for b in brackets])
    z_hat = solve_slope(coef, kappa0, lo0, hi0)[:, 0]
    ell_hat = ell(coef, z_hat[:, None])[:, 0]
    for e, zh, eh in zip(out, z_hat, ell_hat, strict=True):
        e.z_hat, e.ell_hat = float(zh), float(eh)
    return out
