"""P–T phase diagrams: the stable phase on a (P, T) grid and the coexistence lines between each
pair of phases (method.md §8, Pressure).

Along each isobar the fixed-volume machinery of :mod:`~phasetune.phases.transitions` finds T_c(P)
from ΔG_{B−A}(θ, P, T) = 0 (σ_Tc = σ_ΔG/|ΔS|, ∂T_c/∂θ = ΔD*/ΔS).  At each root:

    ΔV = V*_high − V*_low,   ΔH = T_c ΔS,   (dT/dP)_Clapeyron = ΔV/ΔS,

and the Clausius–Clapeyron slope is checked against the numerical slope of the computed line.
Along each isotherm, P_c(T) solves ΔG = 0 in P by Newton with ∂ΔG/∂P = ΔV.  A line point where a
third phase has a lower G is marked metastable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..errors import PhasetuneError
from ..pressure.phase import PressurePhase
from .ensembles import EnsembleTransition, ensemble_transition
from .transitions import transitions

NEWTON_ITERATIONS = 30
PRESSURE_TOL = 1e-7
"""Newton on P stops when the step is below this, eV/Å³."""


@dataclass
class LinePoint:
    """One point of a coexistence line between two phases.

    Attributes:
        pressure: eV/Å³.
        temperature: K (T_c on an isobar, the isotherm's T for P_c points).
        kind: ``"root"``, or a bound ``"above"``/``"below"``/``"none"`` on the isobar (T is then
            the edge of the solved range, NaN for "none").
        low, high: phase stable below / above T_c (on an isotherm: at lower / higher P).
        sigma_T: K (isobar points); sigma_P: eV/Å³ (isotherm points).
        delta_volume: V_high − V_low, Å³/atom (isobar roots also give ``volume_low`` and
            ``volume_high``, V* of each phase there).
        delta_entropy: S_high − S_low, eV/K/atom.
        delta_enthalpy: H_high − H_low = T ΔS, eV/atom.
        clapeyron: ΔV/ΔS, K per eV/Å³.
        gradient: (N_D,) ∂T_c/∂θ on isobars, ∂P_c/∂θ on isotherms.
        solved: bracketed by solved points, refined point solved.
        stable: no third phase is lower in G here.
    """

    pressure: float
    temperature: float
    kind: str
    low: str
    high: str
    sigma_T: float = float("nan")
    sigma_P: float = float("nan")
    delta_volume: float = float("nan")
    volume_low: float = float("nan")
    volume_high: float = float("nan")
    delta_entropy: float = float("nan")
    delta_enthalpy: float = float("nan")
    clapeyron: float = float("nan")
    gradient: np.ndarray | None = None
    solved: bool = False
    stable: bool = True

    def to_dict(self) -> dict:
        """JSON form, pressures in GPa and slopes in K/GPa."""
        out = {"P_GPa": self.pressure / GPA_TO_EV_PER_A3, "T": self.temperature,
               "kind": self.kind, "low": self.low, "high": self.high, "sigma_T": self.sigma_T,
               "sigma_P_GPa": self.sigma_P / GPA_TO_EV_PER_A3,
               "delta_volume": self.delta_volume, "delta_entropy": self.delta_entropy,
               "delta_enthalpy": self.delta_enthalpy,
               "clapeyron_K_per_GPa": self.clapeyron * GPA_TO_EV_PER_A3,
               "solved": self.solved, "stable": self.stable}
        if self.gradient is not None:
            out["gradient"] = self.gradient.tolist()
        return out


@dataclass
class PhaseLine:
    """The coexistence line of two phases: T_c(P) on isobars and P_c(T) on isotherms.

    Attributes:
        isobars: one list of points per pressure of the diagram (roots or a bound).
        isotherms: P_c roots per temperature of the diagram.
        slope: (n_P,) numerical dT_c/dP of the first root along the isobars, K per eV/Å³ (NaN
            where neighbours have no root).
        ensemble: T_c(P) of a θ ensemble, one per pressure, when requested.
    """

    isobars: list[list[LinePoint]]
    isotherms: list[list[LinePoint]]
    slope: np.ndarray
    ensemble: list[EnsembleTransition] = field(default_factory=list)

    def roots(self) -> list[LinePoint]:
        """Every T_c root on the isobars and P_c root on the isotherms."""
        return [p for pts in self.isobars + self.isotherms for p in pts if p.kind == "root"]

    def to_dict(self) -> dict:
        out = {"isobars": [[p.to_dict() for p in pts] for pts in self.isobars],
               "isotherms": [[p.to_dict() for p in pts] for pts in self.isotherms],
               "numerical_slope_K_per_GPa": (self.slope * GPA_TO_EV_PER_A3).tolist()}
        if self.ensemble:
            out["ensemble"] = [{**e.summary(), "T_c": e.T_c.tolist()} for e in self.ensemble]
        return out


@dataclass
class PhaseDiagram:
    """A P–T diagram for one model.

    Attributes:
        pressures: (n_P,) eV/Å³;  temperatures: (n_T,) K.
        phases: phase names.
        G: (n_phases, n_P, n_T) Gibbs free energy per atom, eV/atom (NaN where no V*).
        sigma_G: same shape, eV/atom;  volume: V*, Å³/atom;  solved: same shape.
        stable: (n_P, n_T) index of the lowest-G phase where every phase is solved, −1 elsewhere.
        lines: "A/B" → :class:`PhaseLine`.
    """

    pressures: np.ndarray
    temperatures: np.ndarray
    phases: list[str]
    G: np.ndarray
    sigma_G: np.ndarray
    volume: np.ndarray
    solved: np.ndarray
    stable: np.ndarray
    lines: dict[str, PhaseLine] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "pressures_GPa": (self.pressures / GPA_TO_EV_PER_A3).tolist(),
            "temperatures": self.temperatures.tolist(), "phases": self.phases,
            "units": {"G": "eV/atom", "volume": "Å³/atom", "T": "K", "P": "GPa",
                      "delta_entropy": "eV/K/atom", "delta_enthalpy": "eV/atom",
                      "delta_volume": "Å³/atom"},
            "G": self.G.tolist(), "sigma_G": self.sigma_G.tolist(),
            "volume": self.volume.tolist(), "solved": self.solved.tolist(),
            "stable_phase": [[self.phases[k] if k >= 0 else "" for k in row]
                             for row in self.stable],
            "lines": {k: v.to_dict() for k, v in self.lines.items()},
        }


def check_phases(phases: dict[str, PressurePhase]) -> None:
    """At least two phases with the same descriptor length and conventions."""
    if len(phases) < 2:
        raise PhasetuneError("a phase diagram needs at least two phases",
                             "pass archives holding at least two phases")
    items = list(phases.items())
    name0, ph0 = items[0]
    for name, ph in items[1:]:
        if ph.n_components != ph0.n_components:
            raise PhasetuneError(f"phases {name0} and {name} come from incompatible archives: "
                                 f"{ph0.n_components} vs {ph.n_components} descriptor components",
                                 "sample every phase with the same descriptor spec")
        if ph.conventions != ph0.conventions:
            raise PhasetuneError(f"phases {name0} and {name} use different conventions")


def isobar_points(a: PressurePhase, b: PressurePhase, names: tuple[str, str], theta, t, p,
                  beta0) -> list[LinePoint]:
    """T_c roots (or a bound) of ΔG_{B−A} at pressure p, with ΔV, ΔH and the Clapeyron slope."""
    points = []
    for tr in transitions(a.isobar(p), b.isobar(p), theta, t, names, beta0):
        if tr.kind != "root":
            points.append(LinePoint(p, tr.bound, tr.kind, tr.low, tr.high))
            continue
        at = {n: ph.isobar(p).predict(theta, [tr.T_c], beta0=beta0)
              for n, ph in zip(names, (a, b), strict=True)}
        v_low, v_high = (float(at[n].volume[0, 0]) for n in (tr.low, tr.high))
        ds = tr.delta_entropy
        dv = v_high - v_low
        points.append(LinePoint(
            p, tr.T_c, "root", tr.low, tr.high, sigma_T=tr.sigma_Tc, delta_volume=dv,
            volume_low=v_low, volume_high=v_high, delta_entropy=ds, delta_enthalpy=tr.T_c * ds,
            clapeyron=dv / ds if ds != 0 else float("nan"),
            gradient=tr.gradient, solved=tr.solved))
    return points


def _isotherm_points(a: PressurePhase, b: PressurePhase, names: tuple[str, str], theta,
                     temperature: float, pressures: np.ndarray, g_a: np.ndarray,
                     g_b: np.ndarray, ok: np.ndarray, beta0) -> list[LinePoint]:
    """P_c roots of ΔG_{B−A}(P) = 0 at one temperature, bracketed on the pressure grid."""
    d = g_b - g_a
    points = []
    idx = np.flatnonzero(ok)
    for i, j in zip(idx[:-1], idx[1:], strict=True):
        if j != i + 1 or np.sign(d[i]) == np.sign(d[j]) or d[i] == 0:
            continue
        lo, hi = pressures[i], pressures[j]
        p = lo + (hi - lo) * d[i] / (d[i] - d[j])
        for _ in range(NEWTON_ITERATIONS):
            pa, pb = (ph.predict(theta, [temperature], [p], gradient=True, beta0=beta0)
                      for ph in (a, b))
            delta = float(pb.G[0, 0, 0] - pa.G[0, 0, 0])
            dv = float(pb.volume[0, 0, 0] - pa.volume[0, 0, 0])     # ∂ΔG/∂P
            if np.sign(delta) == np.sign(d[i]):
                lo = p
            else:
                hi = p
            new = p - delta / dv if dv != 0 else 0.5 * (lo + hi)
            if not lo < new < hi:
                new = 0.5 * (lo + hi)
            if abs(new - p) < PRESSURE_TOL:
                p = new
                break
            p = new
        pa, pb = (ph.predict(theta, [temperature], [p], gradient=True, beta0=beta0)
                  for ph in (a, b))
        dv = float(pb.volume[0, 0, 0] - pa.volume[0, 0, 0])
        ds = float(pb.entropy[0, 0, 0] - pa.entropy[0, 0, 0])
        sigma = float(np.hypot(pa.sigma_G[0, 0, 0], pb.sigma_G[0, 0, 0]))
        # B stable at higher P when ΔG_{B−A} falls with P, i.e. V_B < V_A
        low, high = (names[0], names[1]) if dv < 0 else (names[1], names[0])
        sign = 1.0 if high == names[1] else -1.0
        points.append(LinePoint(
            p, temperature, "root", low, high, sigma_P=sigma / abs(dv) if dv else np.nan,
            delta_volume=sign * dv, delta_entropy=sign * ds,
            delta_enthalpy=sign * temperature * ds,
            clapeyron=dv / ds if ds != 0 else float("nan"),
            gradient=-(pb.D_star[0, 0, 0] - pa.D_star[0, 0, 0]) / dv,
            solved=bool(pa.solved[0, 0, 0] and pb.solved[0, 0, 0])))
    return points


def _numerical_slope(pressures: np.ndarray, isobars: list[list[LinePoint]]) -> np.ndarray:
    """dT_c/dP of the first root by central (one-sided at the ends) differences."""
    tc = np.array([next((q.temperature for q in pts if q.kind == "root"), np.nan)
                   for pts in isobars])
    slope = np.full(tc.size, np.nan)
    for k in range(tc.size):
        lo, hi = max(k - 1, 0), min(k + 1, tc.size - 1)
        if hi > lo and np.isfinite(tc[lo]) and np.isfinite(tc[hi]):
            slope[k] = (tc[hi] - tc[lo]) / (pressures[hi] - pressures[lo])
    return slope


def phase_diagram(phases: dict[str, PressurePhase], theta, temperatures, pressures, *,
                  beta0: float | None = None, thetas: np.ndarray | None = None,
                  isotherms: bool = True) -> PhaseDiagram:
    """The P–T diagram of one model θ (N_D,).

    Args:
        phases: name → :class:`~phasetune.pressure.phase.PressurePhase` (≥ 2).
        theta: (N_D,) coefficients.
        temperatures: (n_T,) K grid (brackets T_c along isobars).
        pressures: (n_P,) eV/Å³ grid (brackets P_c along isotherms).
        beta0: the potential's constant, eV/atom.
        thetas: optional (n_models, N_D) ensemble: T_c(P) distributions per line.
        isotherms: also find P_c(T) on every isotherm.
    """
    check_phases(phases)
    theta = np.asarray(theta, dtype=float)
    t = np.sort(np.atleast_1d(np.asarray(temperatures, dtype=float)))
    p = np.sort(np.atleast_1d(np.asarray(pressures, dtype=float)))
    names = list(phases)
    preds = {n: ph.predict(theta, t, p, beta0=beta0) for n, ph in phases.items()}
    g = np.stack([preds[n].G[:, :, 0] for n in names])
    solved = np.stack([preds[n].solved[:, :, 0] for n in names])
    # a phase is stable only where every phase is solved: an unsolved one might be lower
    stable = np.where(solved.all(axis=0), np.argmin(np.where(solved, g, np.inf), axis=0), -1)
    diagram = PhaseDiagram(
        pressures=p, temperatures=t, phases=names, G=g,
        sigma_G=np.stack([preds[n].sigma_G[:, :, 0] for n in names]),
        volume=np.stack([preds[n].volume[:, :, 0] for n in names]), solved=solved,
        stable=stable)
    for a, b in combinations(names, 2):
        pair = (a, b)
        isobars = [isobar_points(phases[a], phases[b], pair, theta, t, pk, beta0) for pk in p]
        iso_t = []
        if isotherms and p.size > 1:
            ia, ib = names.index(a), names.index(b)
            iso_t = [_isotherm_points(phases[a], phases[b], pair, theta, float(t[k]), p,
                                      g[ia, :, k], g[ib, :, k], solved[ia, :, k] & solved[ib, :, k],
                                      beta0) for k in range(t.size)]
        line = PhaseLine(isobars, iso_t, _numerical_slope(p, isobars))
        others = [n for n in names if n not in pair]
        for point in line.roots():
            point.stable = _is_stable(phases, others, point, theta, beta0)
        if thetas is not None:
            line.ensemble = [ensemble_transition(phases[a].isobar(pk), phases[b].isobar(pk),
                                                 thetas, t) for pk in p]
        diagram.lines[f"{a}/{b}"] = line
    return diagram


def _is_stable(phases: dict[str, PressurePhase], others: list[str], point: LinePoint, theta,
               beta0) -> bool:
    """No third phase lies below the coexisting pair's G at the point (unsolved ones ignored)."""
    if not others:
        return True
    g_pair = phases[point.low].predict(theta, [point.temperature], [point.pressure],
                                       beta0=beta0).G[0, 0, 0]
    for name in others:
        q = phases[name].predict(theta, [point.temperature], [point.pressure], beta0=beta0)
        if q.solved[0, 0, 0] and q.G[0, 0, 0] < g_pair:
            return False
    return True
