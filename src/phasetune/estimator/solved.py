"""The solved temperature range of a (phase, volume) for each model θ (method.md §4.3).

:func:`solved_range` scans temperatures geometrically, cuts the scan into runs of ``solved``
points, and refines each end of each run by bisection on the solved flag (to a relative width
``rel_tol``).  Every edge carries the reason the estimate stops there, one of :data:`EDGE_KINDS`,
from the status bits on its unsolved side and from how α* behaves as the edge is crossed:

* α* leaves the grid *continuously* on that side (the last solved α* lies within one spacing of
  the outermost shell), or this temperature's harmonic shell is itself in the outer half-interval:
  ``alpha_above_grid`` / ``alpha_below_grid`` — appending shells moves this edge;
* α* *jumps* to a grid edge from well inside: ``no_interior_saddle`` — f(α) has no minimum inside
  the grid any more, and more shells do not bring it back;
* ``clamped`` (a tilted maximiser at the edge of the sampled support on a shell bracketing α*) and
  ``not_converged`` otherwise.

Cost: one :meth:`~phasetune.estimator.ddos.DDOSEstimator.predict` of every model at ``n_scan``
temperatures (≈ 1.5 µs per (model, T)), then per bisection step one call per distinct midpoint.
Edges that lie in the same scan interval share their midpoints (they start from the same pair of
temperatures and halve it the same way), so the calls are bounded by the scan intervals × the
dyadic nodes visited, not by the number of models.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import EstimatorError
from .prediction import ALPHA_HIGH, ALPHA_LOW, CLAMPED, LOW_SUPPORT, NOT_CONVERGED

N_SCAN = 48
"""Temperatures of the coarse scan (geometric); gaps between solved runs narrower than one scan
step may be missed."""
REL_TOL = 1e-3
"""Bisection stops when an edge is bracketed to this fraction of its temperature."""

EDGE_KINDS = {
    "window": ("end of the search", "the interval may continue beyond the temperatures searched"),
    "alpha_above_grid": ("alpha* above the grid",
                         "append shells (phasetune sample CAMPAIGN --t-max T)"),
    "alpha_below_grid": ("alpha* below the grid",
                         "append lower shells (lower isosurfaces.temperatures[0])"),
    "no_interior_saddle": ("no interior saddle",
                           "f(alpha) stops having a minimum inside the grid and alpha* jumps to "
                           "a grid edge; more shells do not help"),
    "clamped": ("clamped components",
                "the tilt by theta at this T is steeper than the sampled log-density on a shell "
                "bracketing alpha*; more shells do not help"),
    "low_support": ("too few effective samples",
                    "the joint correction's samples do not reach the configurations that "
                    "dominate here; sample more on the shells near this temperature"),
    "not_converged": ("saddle not converged",
                      "Newton on f(alpha) found no stationary point with f'' > 0"),
}
"""Why a solved interval ends, by kind: (label, what it means or what to do).  ``window``: it
does not end inside the search."""
EXTENDABLE = frozenset({"alpha_above_grid", "alpha_below_grid"})
"""Edge kinds that appending shells can move."""


@dataclass(frozen=True)
class RangeEdge:
    """One end of a solved interval.

    Attributes:
        temperature: the last solved temperature at this end, K.
        kind: a key of :data:`EDGE_KINDS`.
        unsolved: the nearest unsolved temperature found beyond it, K (None for ``window``).
        status: status bits at ``unsolved`` (0 for ``window``).
        alpha_star: α* at ``temperature`` (the solved side).
        details: :meth:`Prediction.reasons` at ``unsolved``, in words.
    """

    temperature: float
    kind: str
    unsolved: float | None = None
    status: int = 0
    alpha_star: float = float("nan")
    details: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return EDGE_KINDS[self.kind][0]

    @property
    def reason(self) -> str:
        """``label: remedy``."""
        return ": ".join(EDGE_KINDS[self.kind])

    def to_dict(self) -> dict:
        return {"temperature": self.temperature, "kind": self.kind, "reason": self.reason,
                "unsolved_at": self.unsolved, "status": self.status,
                "alpha_star": self.alpha_star, "details": list(self.details)}


@dataclass(frozen=True)
class SolvedInterval:
    """A contiguous solved temperature interval [low.temperature, high.temperature]."""

    low: RangeEdge
    high: RangeEdge

    @property
    def t_lo(self) -> float:
        return self.low.temperature

    @property
    def t_hi(self) -> float:
        return self.high.temperature

    def contains(self, temperature: float) -> bool:
        return self.t_lo <= temperature <= self.t_hi

    def to_dict(self) -> dict:
        return {"T_lo": self.t_lo, "T_hi": self.t_hi, "low": self.low.to_dict(),
                "high": self.high.to_dict()}

    def describe(self, full: bool = False) -> str:
        """``312–2405 K (below: alpha* below the grid; above: clamped components)``, with each
        edge's remedy when ``full``."""
        ends = [f"{side}: {edge.reason if full else edge.label}"
                for side, edge in (("below", self.low), ("above", self.high))
                if edge.kind != "window"]
        return f"{self.t_lo:.0f}–{self.t_hi:.0f} K" + (f" ({'; '.join(ends)})" if ends else "")


@dataclass
class SolvedRange:
    """Solved intervals of n_models models inside ``window`` = (T_lo, T_hi), K.

    Attributes:
        window: the temperatures searched.
        intervals: per model, its solved intervals in increasing temperature (may be empty).
        grid_temperatures: T_α of the lowest and highest shells, K (the sampled span).
    """

    window: tuple[float, float]
    intervals: list[list[SolvedInterval]]
    grid_temperatures: tuple[float, float] = (float("nan"), float("nan"))
    info: dict = field(default_factory=dict)

    @property
    def n_models(self) -> int:
        return len(self.intervals)

    def main(self, model: int = 0) -> SolvedInterval | None:
        """The widest solved interval (in ln T) of a model, or None if it is solved nowhere."""
        found = self.intervals[model]
        return max(found, key=lambda iv: np.log(iv.t_hi / iv.t_lo)) if found else None

    def at(self, temperature: float, model: int = 0) -> SolvedInterval | None:
        """The interval of a model containing ``temperature``, or None."""
        return next((iv for iv in self.intervals[model] if iv.contains(temperature)), None)

    def bounds(self) -> np.ndarray:
        """(n_models, 2) ends of each model's widest interval (NaN where solved nowhere)."""
        out = np.full((self.n_models, 2), np.nan)
        for m in range(self.n_models):
            iv = self.main(m)
            if iv is not None:
                out[m] = iv.t_lo, iv.t_hi
        return out

    def common(self) -> tuple[float, float] | None:
        """The temperatures inside every model's widest interval, or None if there are none."""
        b = self.bounds()
        if np.isnan(b).any():
            return None
        lo, hi = float(b[:, 0].max()), float(b[:, 1].min())
        return (lo, hi) if lo <= hi else None

    def to_dict(self, per_model: bool | None = None) -> dict:
        """JSON-ready: every interval of every model when ``per_model`` (default: one model),
        else the widest interval's ends per model and the common range."""
        out = {"window": list(self.window), "grid_T": list(self.grid_temperatures),
               "n_models": self.n_models,
               "edge_kinds": {k: ": ".join(v) for k, v in EDGE_KINDS.items()}}
        if per_model if per_model is not None else self.n_models == 1:
            out["intervals"] = [[iv.to_dict() for iv in ivs] for ivs in self.intervals]
        b = self.bounds()
        common = self.common()
        out.update(widest={"T_lo": b[:, 0].tolist(), "T_hi": b[:, 1].tolist()},
                   common=None if common is None else list(common), **self.info)
        return out


def default_window(estimator) -> tuple[float, float]:
    """Temperatures searched by default: T_α of the lowest shell / 2 … of the highest × 2 (the
    solved range cannot reach much beyond the sampled shells)."""
    t = estimator.reference.shell_temperature(estimator.alphas[[0, -1]], estimator.conventions)
    return float(0.5 * t[0]), float(2.0 * t[1])


def solved_range(estimator, theta, t_lo: float | None = None, t_hi: float | None = None, *,
                 n_scan: int = N_SCAN, rel_tol: float = REL_TOL, route: str | None = None,
                 threads: int | None = None) -> SolvedRange:
    """The temperatures where ``estimator`` solves F(θ, T), per model, with the reason at each end.

    Args:
        estimator: a :class:`~phasetune.estimator.ddos.DDOSEstimator`.
        theta: (N_D,) or (n_models, N_D).
        t_lo, t_hi: the temperatures searched, K (default :func:`default_window`).  An interval
            reaching one of them ends with kind ``window``.
        n_scan: temperatures of the coarse geometric scan (≥ 2).
        rel_tol: relative bracket width at which bisection stops.
        route: prediction route (default: the estimator's).
        threads: passed to :meth:`predict`.

    Returns:
        :class:`SolvedRange`; inside each reported interval every scanned and bisected point was
        solved, and each non-``window`` edge has an unsolved point within ``rel_tol`` beyond it.
    """
    theta = estimator.check_theta(theta)
    lo_default, hi_default = default_window(estimator)
    t_lo = lo_default if t_lo is None else float(t_lo)
    t_hi = hi_default if t_hi is None else float(t_hi)
    if not 0 < t_lo < t_hi or not np.isfinite(t_hi):
        raise EstimatorError(f"solved range: need 0 < T_lo < T_hi, got {t_lo:g}, {t_hi:g}")
    if n_scan < 2:
        raise EstimatorError(f"solved range: n_scan must be at least 2, got {n_scan}")
    kwargs = {"route": route, "threads": threads}
    temps = np.geomspace(t_lo, t_hi, n_scan)
    scan = estimator.predict(theta, temps, **kwargs)
    grid = scan.info["alpha_grid"]  # lowest shell, lower bound, upper bound, highest shell
    spacing = (float(grid[3] - grid[2]) * 2.0, float(grid[1] - grid[0]) * 2.0)
    calls = 1

    # every edge: the model, its solved and unsolved temperatures, and what was seen there
    models, inner, outer, upper = [], [], [], []
    for m in range(theta.shape[0]):
        ok = scan.solved[:, m]
        change = np.flatnonzero(ok[1:] != ok[:-1])
        for k in change:  # between scan points k and k + 1
            up = bool(ok[k])  # solved below, unsolved above: the upper end of a run
            models.append(m)
            inner.append(k if up else k + 1)
            outer.append(k + 1 if up else k)
            upper.append(up)
    n_e = len(models)
    m_e = np.array(models, dtype=int)
    s_t = temps[np.array(inner, dtype=int)] if n_e else np.empty(0)
    u_t = temps[np.array(outer, dtype=int)] if n_e else np.empty(0)
    s_alpha = scan.alpha_star[np.array(inner, dtype=int), m_e] if n_e else np.empty(0)
    u_status = scan.status[np.array(outer, dtype=int), m_e] if n_e else np.empty(0, int)
    u_alpha = scan.alpha_star[np.array(outer, dtype=int), m_e] if n_e else np.empty(0)
    u_details: list[tuple[str, ...]] = [tuple(scan.reasons(k, m)) for k, m in
                                        zip(outer, models, strict=True)]
    while n_e:
        active = np.flatnonzero(np.abs(u_t - s_t) > rel_tol * np.minimum(s_t, u_t))
        if active.size == 0:
            break
        mid = 0.5 * (s_t + u_t)
        for value in np.unique(mid[active]):
            group = active[mid[active] == value]  # one edge per model per scan interval
            p = estimator.predict(theta[m_e[group]], [value], **kwargs)
            calls += 1
            ok = p.solved[0]
            s_t[group[ok]] = value
            s_alpha[group[ok]] = p.alpha_star[0, ok]
            bad = np.flatnonzero(~ok)
            u_t[group[bad]] = value
            u_status[group[bad]] = p.status[0, bad]
            u_alpha[group[bad]] = p.alpha_star[0, bad]
            for j in bad:
                u_details[group[j]] = tuple(p.reasons(0, int(j)))
    u_alpha_h = estimator.reference.harmonic_alpha(u_t, estimator.conventions) if n_e else u_t

    edges: dict[int, list[tuple[int, bool, RangeEdge]]] = {}
    for e in range(n_e):
        kind = edge_kind(bool(upper[e]), int(u_status[e]), float(s_alpha[e]),
                         float(u_alpha_h[e]), grid, spacing)
        edge = RangeEdge(float(s_t[e]), kind, float(u_t[e]), int(u_status[e]),
                         float(s_alpha[e]), u_details[e])
        edges.setdefault(int(m_e[e]), []).append((int(inner[e]), bool(upper[e]), edge))
    intervals = []
    for m in range(theta.shape[0]):
        ok = scan.solved[:, m]
        ends = sorted(edges.get(m, []), key=lambda x: (x[0], x[1]))
        found, low = [], None
        if ok[0]:
            low = RangeEdge(float(temps[0]), "window", alpha_star=float(scan.alpha_star[0, m]))
        for _, up, edge in ends:
            if not up:
                low = edge
            else:
                found.append(SolvedInterval(low, edge))
                low = None
        if low is not None:
            high = RangeEdge(float(temps[-1]), "window",
                             alpha_star=float(scan.alpha_star[-1, m]))
            found.append(SolvedInterval(low, high))
        intervals.append(found)
    t_grid = estimator.reference.shell_temperature(np.asarray(grid)[[0, 3]],
                                                   estimator.conventions)
    return SolvedRange((t_lo, t_hi), intervals, (float(t_grid[0]), float(t_grid[1])),
                       {"predict_calls": calls, "n_scan": n_scan, "rel_tol": rel_tol})


def edge_kind(upper: bool, status: int, alpha_inside: float, alpha_h: float, grid,
              spacing: tuple[float, float]) -> str:
    """Why a solved interval ends (a key of :data:`EDGE_KINDS`).

    Args:
        upper: the edge is the upper end of the interval (the estimate stops being solved as T
            rises through it).
        status: status bits on the unsolved side.
        alpha_inside: α* on the solved side, next to the edge.
        alpha_h: the harmonic shell α_H(T) on the unsolved side.
        grid: [lowest shell, lower bound, upper bound, highest shell] (``alpha_grid``).
        spacing: (shell spacing at the top, at the bottom) of the grid.

    The grid is to blame when α* leaves it continuously (the solved α* next to the edge lies
    within one spacing of the outermost shell on that side) or when this temperature's harmonic
    shell is itself in the outer half-interval; otherwise the status bits say why.
    """
    if upper and (alpha_inside >= grid[3] - spacing[0] or alpha_h >= grid[2]):
        return "alpha_above_grid"
    if not upper and (alpha_inside <= grid[0] + spacing[1] or alpha_h <= grid[1]):
        return "alpha_below_grid"
    if status & (ALPHA_HIGH | ALPHA_LOW):
        return "no_interior_saddle"
    if status & CLAMPED:
        return "clamped"
    if status & LOW_SUPPORT:
        return "low_support"
    if status & NOT_CONVERGED:
        return "not_converged"
    return "window"  # pragma: no cover - an unsolved point has at least one bit
