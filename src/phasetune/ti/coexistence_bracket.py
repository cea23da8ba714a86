"""Melting point bracketed by thermostatted two-phase runs (the NPT interface method).

A check of :func:`~phasetune.ti.coexistence.coexistence_melting` that does not rely on the
temperature settling by itself: the same two-phase cell is prepared at a fixed temperature T and
kept there by the Langevin thermostat (``fix nph`` on the long axis holds P).  Below T_m the
crystal grows, above it the crystal melts: the sign of the drift of the solid fraction (a linear
fit over the run, with an error inflated by the statistical inefficiency of the residuals) says on
which side of T_m the temperature lies.  Starting from [T_low, T_high] (the crystal must grow at
T_low and melt at T_high), each bisection halves the bracket.  T_m is reported as the middle of the
final bracket with half its width as the uncertainty: a bound, not a standard error.
Units: K, GPa, ps; drift in solid fraction per ps.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3
from ..errors import PhasetuneError
from ..harmonic.reference import describe
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from ..potentials.registry import load_potential
from ..progress import progress_bar
from ..structures.crystals import nearest_neighbour_distance
from .coexistence import (
    CoexistenceSettings,
    build_crystal,
    crystal_stage,
    crystal_stage_steps,
    prepare_two_phase,
)
from .coexistence_cell import check_two_phase_cell, interaction_cutoff, upper_half
from .coexistence_md import CoexistenceError, TwoPhaseMD
from .npt import check_pressure, with_cell
from .solidity import SolidityCriterion, criterion_for, solid_fraction
from .stats import statistical_inefficiency

DECISIVE = 2.0
"""|drift| / its error beyond which a run decides on which side of T_m it lies."""
GROWS, MELTS, UNDECIDED = "crystal grows", "crystal melts", "undecided"


class _Decided(Exception):
    """The solid fraction left the limits: the run has decided."""


@dataclass
class BracketPoint:
    """One thermostatted two-phase run at temperature T.

    Attributes:
        T: K.
        verdict: ``"crystal grows"`` (T < T_m), ``"crystal melts"`` (T > T_m) or
            ``"undecided"``.
        drift: slope of the solid fraction, 1/ps; ``drift_error``: its standard error.
        fraction_start, fraction_end: solid fraction at the start and end of the run.
        time_ps: length of the run (shorter when the fraction left the limits).
        cpu_seconds: process CPU time, s.
    """

    T: float
    verdict: str
    drift: float
    drift_error: float
    fraction_start: float
    fraction_end: float
    time_ps: float
    cpu_seconds: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class BracketResult:
    """T_m(P) bracketed by thermostatted two-phase runs.

    Attributes:
        T_m: middle of the final bracket, K; ``half_width``: half its width, K (a bound).
        T_low, T_high: the final bracket, K.
        pressure_GPa: GPa.
        points: every run, in the order run.
        crystal: the crystal stage at the middle of the starting bracket.
        cpu_seconds: s.
    """

    structure: str
    potential: dict
    pressure_GPa: float
    T_m: float
    half_width: float
    T_low: float
    T_high: float
    points: list[BracketPoint]
    crystal: dict
    settings: dict
    cpu_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["points"] = [p.to_dict() for p in self.points]
        d["method"] = "solid-liquid coexistence, thermostatted two-phase runs (bracket)"
        d["units"] = {"T": "K", "pressure": "GPa", "drift": "1/ps", "cpu_seconds": "s"}
        return d


def fraction_drift(times: np.ndarray, fractions: np.ndarray) -> tuple[float, float]:
    """Slope (1/ps) of the solid fraction against time (ps) and its standard error, inflated by
    the statistical inefficiency of the residuals; (NaN, NaN) with fewer than 3 points."""
    if len(times) < 3:
        return float("nan"), float("nan")
    coeffs, cov = np.polyfit(times, fractions, 1, cov="unscaled")
    resid = fractions - np.polyval(coeffs, times)
    dof = max(len(times) - 2, 1)
    var = float(resid @ resid) / dof
    g = statistical_inefficiency(resid)
    return float(coeffs[0]), float(np.sqrt(cov[0, 0] * var * g))


def verdict_of(fraction_end: float, drift: float, error: float,
               limits: tuple[float, float]) -> str:
    """On which side of T_m a run lies (module docstring)."""
    lo, hi = limits
    if fraction_end > hi:
        return GROWS
    if fraction_end < lo:
        return MELTS
    if np.isfinite(drift) and error > 0 and abs(drift) > DECISIVE * error:
        return GROWS if drift > 0 else MELTS
    return UNDECIDED


def _point(temperature: float, atoms: Atoms, target: PairPotential,
           criterion: SolidityCriterion, settings: CoexistenceSettings, pressure: float,
           steps: int, seed: int, progress: Callable[[int], None]) -> BracketPoint:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 17, int(round(temperature * 1e3))]))
    seeds = [int(x) for x in rng.integers(1, 900_000_000, size=4)]
    where = f"bracket run at {temperature:g} K ({describe(atoms)}, " \
            f"{pressure / GPA_TO_EV_PER_A3:g} GPa)"
    cpu = time.process_time()
    hot = upper_half(atoms)
    d_nn = nearest_neighbour_distance(atoms.positions, np.array(atoms.cell))
    rows: list[tuple[float, float]] = []
    lo, hi = settings.fraction_limits

    def check(md: TwoPhaseMD) -> None:
        fraction = solid_fraction(md.positions(), md.cell(), d_nn, criterion)
        rows.append((md.step * settings.timestep, fraction))
        if not lo <= fraction <= hi:
            raise _Decided

    md = TwoPhaseMD(atoms, target, hot, timestep=settings.timestep, damping=settings.damping,
                    pressure_damping=settings.pressure_damping, stride=settings.stride,
                    chunk=settings.chunk, coupling=settings.coupling, label=where)
    done = 0

    def counted(n: int) -> None:
        nonlocal done
        done += n
        progress(n)

    total = settings.melt_steps + settings.interface_steps + steps
    try:
        prepare_two_phase(md, hot, d_nn, criterion, settings, temperature, pressure, seeds,
                          where, counted)
        md.run(settings.interface_steps, record=False, progress=counted)
        start = md.step
        check(md)
        md.run(steps, record=False, check=check, progress=counted)
    except _Decided:
        progress(total - done)
    finally:
        md.close()
    data = np.array(rows)
    drift, error = fraction_drift(data[:, 0], data[:, 1])
    return BracketPoint(T=float(temperature),
                        verdict=verdict_of(data[-1, 1], drift, error, settings.fraction_limits),
                        drift=drift, drift_error=error, fraction_start=float(data[0, 1]),
                        fraction_end=float(data[-1, 1]),
                        time_ps=float((md.step - start) * settings.timestep),
                        cpu_seconds=time.process_time() - cpu)


def coexistence_bracket(
    structure: str | Atoms, element: str | None,
    potential: str | LinearPotential | PairPotential, *, pressure_GPa: float = 0.0,
    T_low: float, T_high: float, bisections: int = 2, cells: tuple[int, int, int] = (4, 4, 16),
    steps: int = 5000, timestep: float | None = None, seed: int = 0,
    progress: bool | str = True, volume: float | None = None,
    settings: CoexistenceSettings | None = None, criterion: SolidityCriterion | None = None,
) -> BracketResult:
    """Bracket T_m at pressure P between two temperatures by thermostatted two-phase runs.

    Args:
        structure, element, potential, cells, volume, timestep, seed, progress, settings,
            criterion: as :func:`~phasetune.ti.coexistence.coexistence_melting`.
        pressure_GPa: GPa.
        T_low, T_high: K; the crystal must grow at T_low and melt at T_high.
        bisections: runs halving the bracket after the two end points.
        steps: thermostatted steps per run after the interface equilibration.

    Returns:
        :class:`BracketResult` (``T_m`` ± ``half_width``, K).

    Raises:
        CoexistenceError: the end points do not bracket T_m (or a run cannot tell).
    """
    settings = settings or CoexistenceSettings()
    if timestep is not None:
        settings = replace(settings, timestep=float(timestep))
    if not 0 < T_low < T_high:
        raise PhasetuneError(f"need 0 < T_low < T_high, got {T_low:g} and {T_high:g} K")
    if bisections < 0 or steps < settings.chunk:
        raise PhasetuneError(f"need bisections ≥ 0 and at least {settings.chunk} steps")
    steps = -(-int(steps) // settings.stride) * settings.stride
    pressure = check_pressure(pressure_GPa * GPA_TO_EV_PER_A3)
    pot = load_potential(potential, element) if isinstance(potential, (str, Path)) else potential
    t_mid = 0.5 * (T_low + T_high)
    atoms = build_crystal(structure, element, pot, cells, volume, pressure_GPa, t_mid)
    criterion = criterion or criterion_for(str(atoms.info.get("structure", "")))
    per_point = settings.melt_steps + settings.interface_steps + steps
    points: list[BracketPoint] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        target = pair_form(pot, workdir)
        cutoff = interaction_cutoff(pot, target)
        check_two_phase_cell(atoms, cutoff, settings.min_half_cutoffs)
        total = crystal_stage_steps(settings) + per_point * (2 + bisections)
        with progress_bar(total, "coexistence bracket", progress) as bar:
            crystal = crystal_stage(atoms, target, settings, criterion, t_mid, pressure, seed,
                                     bar.update)
            start = with_cell(atoms, np.array(crystal["cell"]))

            def run(temperature: float) -> BracketPoint:
                point = _point(temperature, start, target, criterion, settings, pressure, steps,
                               seed, bar.update)
                points.append(point)
                return point

            low, high = run(T_low), run(T_high)
            if low.verdict != GROWS or high.verdict != MELTS:
                bad = low if low.verdict != GROWS else high
                raise CoexistenceError(
                    f"[{T_low:g}, {T_high:g}] K does not bracket the melting point: at "
                    f"{bad.T:g} K the run says '{bad.verdict}' (solid fraction "
                    f"{bad.fraction_start:.2f} → {bad.fraction_end:.2f}, drift "
                    f"{bad.drift:+.3f} ± {bad.drift_error:.3f} /ps)",
                    "widen the bracket (the crystal must grow at T_low and melt at T_high), "
                    "or lengthen the runs (--steps) when a run is undecided")
            lo_t, hi_t = float(T_low), float(T_high)
            for _ in range(bisections):
                mid = run(0.5 * (lo_t + hi_t))
                if mid.verdict == GROWS:
                    lo_t = mid.T
                elif mid.verdict == MELTS:
                    hi_t = mid.T
                else:
                    notes.append(f"undecided at {mid.T:g} K: T_m is close to it; bisection "
                                 "stopped")
                    break
    return BracketResult(
        structure=describe(atoms), potential={**target.describe(), "cutoff": cutoff},
        pressure_GPa=float(pressure_GPa), T_m=0.5 * (lo_t + hi_t),
        half_width=0.5 * (hi_t - lo_t), T_low=lo_t, T_high=hi_t, points=points, crystal=crystal,
        settings={**settings.to_dict(), "steps": steps, "bisections": bisections, "seed": seed,
                  "criterion": criterion.to_dict()},
        cpu_seconds=crystal.get("cpu_seconds", 0.0) + sum(p.cpu_seconds for p in points),
        notes=notes)
