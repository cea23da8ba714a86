"""Bookkeeping of solid–liquid coexistence runs: one run's plateau, and T_m over the runs.

One run (:func:`analyse_run`) gives T_m as the mean temperature of its NPH plateau, the last
``plateau_fraction`` of the production, with a block-averaged standard error
(:func:`~phasetune.ti.stats.summarize_series`).  Over the independent runs (different seeds,
hence different liquids and interface histories), :func:`combine_runs` reports the mean of the
per-run values and the larger of two standard errors: the spread of the runs, σ_runs =
s/√n, and the propagated block errors, σ_block = (Σ σ_i²)^{1/2}/n.  Units: K, GPa, ps, Å³/atom,
meV/atom/ps for the energy drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..constants import GPA_TO_EV_PER_A3, KB
from .barostat import BAR_PER_EV_A3
from .coexistence_md import RECORDED
from .stats import summarize_series

_COL = {name: k + 1 for k, name in enumerate(RECORDED)}
"""Column of each recorded quantity in a production record (column 0 is the step)."""
MAX_DRIFT_K_PER_PS = 5.0
"""Largest energy drift of the integrator, as k_B-equivalent heating 3k_B·ΔT per ps, accepted
without a warning (the latent heat absorbs it, but it signals a too long timestep)."""
T_GUESS_TOLERANCE = 100.0
"""|T_m − T_guess| (K) beyond which a rerun at T_guess = T_m is advised (fixed cross-section)."""
FRACTION_MARGIN = 0.1
"""A final solid fraction this close to the refusal limits is flagged."""


def _bar_to_gpa(x: np.ndarray | float) -> np.ndarray | float:
    return np.asarray(x) / BAR_PER_EV_A3 / GPA_TO_EV_PER_A3


@dataclass
class RunRecord:
    """One independent coexistence run.

    Attributes:
        run: index of the run (its seeds derive from it).
        T_m: mean temperature of the plateau, K; ``sigma``: its block-averaged standard error.
        pressure_GPa: mean P_zz of the plateau (and ``sigma_pressure_GPa``), GPa: the normal
            stress across the interfaces, equal to the liquid's pressure, i.e. the pressure of
            the coexistence; ``pressure_total_GPa``: mean of the trace (P_xx + P_yy + P_zz)/3;
            ``pressure_lateral_GPa``: mean (P_xx + P_yy)/2 (differs from P_zz by the solid's
            lateral stress and the interface stress).
        volume: mean volume of the plateau, Å³/atom.
        cross_section: mean lx·ly of the plateau, Å²; ``length``: mean lz, Å.
        fraction_start, fraction_end: solid fraction at the start and the end of the NPH
            production; ``fraction_plateau``: its mean over the plateau.
        plateau_ps: (start, end) of the plateau, ps from the start of the production.
        production_ps: length of the production, ps.
        series: T summary over the plateau (equilibration, inefficiency, drift).
        energy_drift: slope of the conserved energy over the production, meV/atom/ps.
        trace: per-chunk means over the production: time (ps), T (K), P (GPa), solid fraction.
        profile: solid fraction in slabs along the long axis at the end of the run.
        stages: solid fraction after each stage before the production.
        seeds: the seeds of the run; ``n_steps``, ``cpu_seconds``.
    """

    run: int
    T_m: float
    sigma: float
    pressure_GPa: float
    sigma_pressure_GPa: float
    pressure_total_GPa: float
    pressure_lateral_GPa: float
    volume: float
    cross_section: float
    length: float
    fraction_start: float
    fraction_end: float
    fraction_plateau: float
    plateau_ps: tuple[float, float]
    production_ps: float
    series: dict
    energy_drift: float
    trace: dict = field(default_factory=dict)
    profile: list = field(default_factory=list)
    stages: dict = field(default_factory=dict)
    seeds: list = field(default_factory=list)
    n_steps: int = 0
    cpu_seconds: float = 0.0

    @property
    def equilibrated(self) -> bool:
        return bool(self.series.get("equilibrated", True))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["plateau_ps"] = list(self.plateau_ps)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> RunRecord:
        kwargs = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        kwargs["plateau_ps"] = tuple(kwargs["plateau_ps"])
        return cls(**kwargs)


def analyse_run(run: int, record: np.ndarray, fractions: np.ndarray, n_atoms: int,
                timestep: float, plateau_fraction: float, **extra) -> RunRecord:
    """The plateau averages of one NPH production.

    Args:
        run: index of the run.
        record: (n, 1 + len(RECORDED)) production record of :meth:`TwoPhaseMD.run` (step, then
            T, P, P_zz in bar, U, V, lx, ly, lz, conserved energy).
        fractions: (m, 2) step and solid fraction after every chunk of the production.
        n_atoms: N.
        timestep: ps.
        plateau_fraction: the last fraction of the production that is averaged.
        extra: further :class:`RunRecord` fields (trace, profile, stages, seeds, n_steps, …).
    """
    t_ps = record[:, 0] * timestep
    start = int(np.floor(len(record) * (1.0 - plateau_fraction)))
    plateau = record[start:]
    temp = summarize_series(plateau[:, _COL["T"]])
    press = summarize_series(_bar_to_gpa(plateau[:, _COL["P_zz"]]))
    total = float(_bar_to_gpa(plateau[:, _COL["P"]].mean()))
    lengths = plateau[:, [_COL["lx"], _COL["ly"], _COL["lz"]]]
    drift = np.polyfit(t_ps, record[:, _COL["E_conserved"]], 1)[0] if len(record) > 1 else 0.0
    f_steps, f_vals = fractions[:, 0], fractions[:, 1]
    in_plateau = f_vals[f_steps * timestep >= t_ps[start]] if len(fractions) else f_vals
    return RunRecord(
        run=run, T_m=temp.mean, sigma=temp.error, pressure_GPa=press.mean,
        sigma_pressure_GPa=press.error,
        pressure_total_GPa=total, pressure_lateral_GPa=(3 * total - press.mean) / 2,
        volume=float(plateau[:, _COL["V"]].mean() / n_atoms),
        cross_section=float(np.mean(lengths[:, 0] * lengths[:, 1])),
        length=float(lengths[:, 2].mean()),
        fraction_start=float(f_vals[0]) if len(f_vals) else float("nan"),
        fraction_end=float(f_vals[-1]) if len(f_vals) else float("nan"),
        fraction_plateau=float(in_plateau.mean()) if len(in_plateau) else float("nan"),
        plateau_ps=(float(t_ps[start]), float(t_ps[-1])), production_ps=float(t_ps[-1]),
        series=temp.to_dict(), energy_drift=float(1e3 * drift / n_atoms), **extra)


def chunk_trace(record: np.ndarray, fractions: np.ndarray, timestep: float) -> dict:
    """Per-chunk means of T (K) and P (GPa) at the steps where the solid fraction was taken."""
    steps = fractions[:, 0]
    edges = np.concatenate([[-np.inf], steps])
    t_mean, p_mean = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        rows = record[(record[:, 0] > lo) & (record[:, 0] <= hi)]
        t_mean.append(float(rows[:, _COL["T"]].mean()) if len(rows) else float("nan"))
        p_mean.append(float(_bar_to_gpa(rows[:, _COL["P"]].mean())) if len(rows)
                      else float("nan"))
    return {"time_ps": (steps * timestep).tolist(), "T": t_mean, "P_GPa": p_mean,
            "solid_fraction": fractions[:, 1].tolist()}


@dataclass
class CoexistenceResult:
    """T_m(P) of a potential by solid–liquid coexistence (NPH two-phase runs).

    Attributes:
        structure: the crystal (prototype, element, cell); ``potential``: its description.
        pressure_GPa: requested pressure, GPa.
        T_guess: starting temperature, K.
        T_m: melting temperature, K (mean of the runs); ``sigma``: its standard error, the larger
            of ``sigma_runs`` (spread of the runs) and ``sigma_block`` (block errors).
        pressure_mean_GPa: mean P_zz of the plateaus (the coexistence pressure), GPa.
        runs: the per-run records.
        crystal: the NPT equilibration of the crystal at (P, T_guess) (mean cell, volume).
        cell: the two-phase cell (atoms, widths, half length, cutoff).
        settings: every setting of the runs.
        warnings: what to look at before trusting the number.
        cpu_seconds: process CPU time of every stage, s.
    """

    structure: str
    potential: dict
    pressure_GPa: float
    T_guess: float
    T_m: float
    sigma: float
    sigma_runs: float
    sigma_block: float
    pressure_mean_GPa: float
    runs: list[RunRecord]
    crystal: dict
    cell: dict
    settings: dict
    warnings: list[str] = field(default_factory=list)
    cpu_seconds: float = 0.0

    @property
    def T_values(self) -> np.ndarray:
        """(n_runs,) per-run melting temperatures, K."""
        return np.array([r.T_m for r in self.runs])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["runs"] = [r.to_dict() for r in self.runs]
        d["T_runs"] = self.T_values.tolist()
        d["fraction_start"] = [r.fraction_start for r in self.runs]
        d["fraction_end"] = [r.fraction_end for r in self.runs]
        d["method"] = "solid-liquid coexistence, NPH two-phase runs"
        d["units"] = {"T": "K", "pressure": "GPa", "time": "ps", "volume": "Å³/atom",
                      "length": "Å", "energy_drift": "meV/atom/ps", "cpu_seconds": "s"}
        return d


def combine_runs(runs: list[RunRecord]) -> tuple[float, float, float, float]:
    """(T_m, σ, σ_runs, σ_block) over the runs, K (module docstring); σ_runs is NaN for one run.
    """
    t = np.array([r.T_m for r in runs])
    s = np.array([r.sigma for r in runs])
    sigma_runs = float(np.std(t, ddof=1) / np.sqrt(len(t))) if len(t) > 1 else float("nan")
    sigma_block = float(np.sqrt(np.sum(s**2)) / len(t))
    sigma = sigma_block if not np.isfinite(sigma_runs) else max(sigma_runs, sigma_block)
    return float(t.mean()), sigma, sigma_runs, sigma_block


def run_warnings(runs: list[RunRecord], limits: tuple[float, float], pressure_gpa: float,
                 t_guess: float, coupling: str) -> list[str]:
    """Warnings about the plateaus, the drift, the solid fractions, the pressure and (with the
    cross-section fixed) the distance between T_guess and T_m."""
    out = []
    lo, hi = limits
    for r in runs:
        where = f"run {r.run}"
        if not r.equilibrated:
            out.append(f"{where}: the temperature still drifts on the plateau (drift "
                       f"{r.series.get('drift', 0):.1f} σ); lengthen the production (--steps)")
        heating = abs(r.energy_drift) * 1e-3 / (3 * KB)
        if heating > MAX_DRIFT_K_PER_PS:
            out.append(f"{where}: the conserved energy drifts by {r.energy_drift:.3f} meV/atom/ps "
                       f"(≈ {heating:.0f} K/ps of heating); use a smaller --timestep")
        if not lo + FRACTION_MARGIN <= r.fraction_end <= hi - FRACTION_MARGIN:
            out.append(f"{where}: the solid fraction ended at {r.fraction_end:.2f}, close to the "
                       f"limits {lo:g}–{hi:g}: the interfaces may soon meet; start closer to "
                       "T_m (--T-guess) or use a longer cell")
        if abs(r.pressure_GPa - pressure_gpa) > 3 * r.sigma_pressure_GPa + 0.1:
            out.append(f"{where}: the mean pressure {r.pressure_GPa:.3f} GPa is off the "
                       f"requested {pressure_gpa:g} GPa; lengthen the run")
    t_m = float(np.mean([r.T_m for r in runs]))
    if coupling == "z" and abs(t_m - t_guess) > T_GUESS_TOLERANCE:
        out.append(f"T_m = {t_m:.0f} K is {abs(t_m - t_guess):.0f} K from T_guess = {t_guess:g} "
                   "K: the cross-section is the crystal's at T_guess, so the solid is strained "
                   f"at T_m; rerun with --T-guess {t_m:.0f}")
    if len(runs) < 2:
        out.append("one run gives no spread between runs; σ is the block error only "
                   "(use --runs ≥ 2)")
    return out
