"""Melting temperature T_m(P) of a potential by solid–liquid coexistence (two-phase NPH runs).

:func:`coexistence_melting` is an independent check of the melting point that free-energy routes
predict.  Stages (docs/ti.md, "Solid–liquid coexistence"):

1. the crystal, elongated along its third axis, is equilibrated by constant-pressure MD at
   (P, T_guess) (:mod:`~phasetune.ti.coexistence_crystal`); its mean cell is the cell of every
   run;
2. each independent run (own seeds) melts the upper half at ``melt_factor``·T_guess with the
   lower half frozen, then cools the liquid and equilibrates the two interfaces with a
   thermostat and barostat at (P, T_guess) (:mod:`~phasetune.ti.coexistence_md`);
3. production at constant enthalpy and pressure (NPH): if T > T_m solid melts and its latent heat
   cools the cell, if T < T_m liquid freezes and warms it, so T settles at T_m while both phases
   coexist.  T_m of the run is the mean T over the plateau (the last part of the production).

The solid fraction (:mod:`~phasetune.ti.solidity`) is taken after every chunk; a run that melts
completely or freezes completely stops with :class:`CoexistenceError` (it holds no melting
point).  Runs are checkpointed one by one (JSON) and resumed.  Units at the interface: K, GPa, ps,
Å³/atom.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3
from ..errors import PhasetuneError
from ..harmonic.reference import describe
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from ..potentials.registry import load_potential
from ..progress import progress_bar
from ..structures.crystals import crystal, nearest_neighbour_distance
from .barostat import NPTSettings
from .checkpoint import StageStore
from .coexistence_cell import (
    check_two_phase_cell,
    interaction_cutoff,
    starting_volume,
    upper_half,
)
from .coexistence_crystal import crystal_cell
from .coexistence_md import COUPLINGS, CoexistenceError, TwoPhaseMD
from .coexistence_result import (
    CoexistenceResult,
    RunRecord,
    analyse_run,
    chunk_trace,
    combine_runs,
    run_warnings,
)
from .npt import check_pressure, with_cell
from .solidity import SolidityCriterion, criterion_for, solid_like, solid_profile

MAX_TIMESTEP = 0.005
"""Largest timestep accepted, ps (the energy-drift check flags too long ones below it)."""
MAX_HOT_SOLID = 0.5
"""Largest solid fraction of the melted half after melting: above it, melting failed."""


@dataclass(frozen=True)
class CoexistenceSettings:
    """Settings of the coexistence runs (steps, ps, K factors).

    Attributes:
        timestep: ps (check ``energy_drift`` of the result; 2 fs suits metals like Mo).
        damping: Langevin damping time of the thermostatted stages, ps.
        pressure_damping: barostat relaxation time, ps.
        stride: steps between recorded samples.
        chunk: steps between solid-fraction checks and progress updates (multiple of stride).
        coupling: ``"z"`` (the long axis only: P_zz, the normal stress that is continuous
            across the interfaces and equals the liquid's pressure, is held at P, and the
            cross-section stays that of the crystal equilibrated at (P, T_guess)) or
            ``"aniso"`` (x, y and z each coupled to P; with a liquid in the cell nothing but the
            thin solid slab resists changes of the cross-section, which then wanders: in small
            cells this strains the solid and can freeze the cell spuriously).
        crystal_steps: NPT production steps of the crystal at (P, T_guess) (a quarter more to
            equilibrate), at a timestep of at most 1 fs.
        melt_steps: steps melting the upper half at ``melt_factor``·T_guess, the lower half
            frozen.
        interface_steps: thermostatted steps (Langevin + ``fix nph``) that cool the liquid and
            join the phases at (P, T_guess).
        melt_factor: melting temperature / T_guess.
        plateau_fraction: last fraction of the NPH production averaged for T_m.
        fraction_limits: (lowest, highest) solid fraction of a live two-phase run; outside, the
            run stops with :class:`CoexistenceError`.
        min_half_cutoffs: shortest half of the cell along its long axis, in cutoffs.
        profile_bins: slabs of the final solid-fraction profile (default: the repetitions of
            the cell along its long axis).
    """

    timestep: float = 0.002
    damping: float = 0.1
    pressure_damping: float = 1.0
    stride: int = 10
    chunk: int = 250
    coupling: str = "z"
    crystal_steps: int = 2000
    melt_steps: int = 750
    interface_steps: int = 1000
    melt_factor: float = 2.0
    plateau_fraction: float = 0.5
    fraction_limits: tuple[float, float] = (0.1, 0.9)
    min_half_cutoffs: float = 3.0
    profile_bins: int | None = None

    def __post_init__(self) -> None:
        if not 0 < self.timestep <= MAX_TIMESTEP:
            raise PhasetuneError(f"timestep {self.timestep} ps is outside (0, {MAX_TIMESTEP}] ps",
                                 "use a timestep of 1–2 fs")
        if self.coupling not in COUPLINGS:
            raise PhasetuneError(f"unknown pressure coupling {self.coupling!r}",
                                 f"choose one of {', '.join(COUPLINGS)}")
        if self.stride < 1 or self.chunk < self.stride or self.chunk % self.stride:
            raise PhasetuneError("chunk must be a positive multiple of stride")
        counts = (self.crystal_steps, self.melt_steps, self.interface_steps)
        if min(counts) < 0 or any(n % self.stride for n in counts):
            raise PhasetuneError(f"stage lengths {counts} must be non-negative multiples of "
                                 f"stride {self.stride}")
        lo, hi = self.fraction_limits
        if not 0 <= lo < 0.5 < hi <= 1 or not 0 < self.plateau_fraction <= 1 \
                or self.melt_factor <= 1 or self.damping <= 0 or self.pressure_damping <= 0:
            raise PhasetuneError("coexistence settings need 0 ≤ lowest < ½ < highest ≤ 1 solid "
                                 "fraction, a plateau fraction in (0, 1], melt_factor > 1 and "
                                 "positive dampings")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["fraction_limits"] = list(self.fraction_limits)
        return d


class _FractionGuard:
    """Solid fraction after every chunk; stops a run that lost one of its phases."""

    def __init__(self, d_nn: float, criterion: SolidityCriterion, limits: tuple[float, float],
                 where: str, settings: CoexistenceSettings, t_guess: float):
        self.d_nn, self.criterion, self.limits = d_nn, criterion, limits
        self.where, self.settings, self.t_guess = where, settings, t_guess
        self.rows: list[tuple[int, float]] = []
        self.origin, self.stage = 0, ""
        self.solid: np.ndarray | None = None

    def start(self, stage: str, md: TwoPhaseMD) -> None:
        self.stage, self.origin, self.rows = stage, md.step, []

    def __call__(self, md: TwoPhaseMD) -> None:
        self.solid = solid_like(md.positions(), md.cell(), self.d_nn, self.criterion)
        fraction = float(self.solid.mean())
        self.rows.append((md.step - self.origin, fraction))
        lo, hi = self.limits
        if lo <= fraction <= hi:
            return
        t_ps = (md.step - self.origin) * self.settings.timestep
        temperature = md.value("T")
        state = f"solid fraction {fraction:.2f} after {t_ps:.1f} ps of the {self.stage} " \
                f"(T = {temperature:.0f} K)"
        if fraction < lo:
            raise CoexistenceError(
                f"{self.where}: the cell melted completely: {state}, below {lo:g}; no "
                "coexistence, no melting point",
                f"lower --T-guess (this potential melts below {self.t_guess:g} K at this "
                "pressure), or lengthen the cell (last --cells number) so that more latent heat "
                "holds the temperature")
        raise CoexistenceError(
            f"{self.where}: the cell froze completely: {state}, above {hi:g}; no coexistence, "
            "no melting point",
            f"raise --T-guess (this potential melts above {self.t_guess:g} K at this pressure), "
            "or lengthen the cell (last --cells number) so that more latent heat holds the "
            "temperature")

    def array(self) -> np.ndarray:
        return np.array(self.rows, dtype=float).reshape(-1, 2)


def prepare_two_phase(md: TwoPhaseMD, hot: np.ndarray, d_nn: float,
                      criterion: SolidityCriterion, settings: CoexistenceSettings,
                      temperature: float, pressure: float, seeds: list[int], where: str,
                      progress: Callable[[int], None] | None) -> dict:
    """Melt the ``hot`` half at ``melt_factor`` × ``temperature`` (K), then release the whole
    cell under the thermostat at ``temperature`` and the barostat at ``pressure`` (eV/Å³).

    Returns the solid fractions after the melt (``melted``: the cell, ``melted_half``: the hot
    half).

    Raises:
        CoexistenceError: the hot half is still mostly crystalline.
    """
    t_hot = settings.melt_factor * temperature
    md.melt(t_hot, pressure, settings.melt_steps, (seeds[0], seeds[1]), progress)
    solid = solid_like(md.positions(), md.cell(), d_nn, criterion)
    if solid[hot].mean() > MAX_HOT_SOLID:
        raise CoexistenceError(
            f"{where}: the half to melt stayed crystalline (solid fraction of that half "
            f"{solid[hot].mean():.2f} after {settings.melt_steps} steps at {t_hot:.0f} K)",
            f"raise --T-guess (or the bracket) if the melting point may be far above it (the "
            f"melt runs at {settings.melt_factor:g} × that temperature), else melt_factor or "
            "melt_steps (CoexistenceSettings)")
    md.release(temperature, pressure, (seeds[2], seeds[3]))
    return {"melted": float(solid.mean()), "melted_half": float(solid[hot].mean())}


def _run_once(k: int, atoms: Atoms, target: PairPotential, criterion: SolidityCriterion,
              settings: CoexistenceSettings, t_guess: float, pressure: float, steps: int,
              seed: int, progress: Callable[[int], None]) -> RunRecord:
    """One independent two-phase run from the equilibrated crystal ``atoms``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 15, k]))
    seeds = [int(x) for x in rng.integers(1, 900_000_000, size=4)]
    where = f"coexistence run {k} ({describe(atoms)}, T_guess {t_guess:g} K, " \
            f"{pressure / GPA_TO_EV_PER_A3:g} GPa)"
    cpu = time.process_time()
    hot = upper_half(atoms)
    d_nn = nearest_neighbour_distance(atoms.positions, np.array(atoms.cell))
    guard = _FractionGuard(d_nn, criterion, settings.fraction_limits, where, settings, t_guess)
    md = TwoPhaseMD(atoms, target, hot, timestep=settings.timestep, damping=settings.damping,
                    pressure_damping=settings.pressure_damping, stride=settings.stride,
                    chunk=settings.chunk, coupling=settings.coupling, label=where)
    try:
        stages = prepare_two_phase(md, hot, d_nn, criterion, settings, t_guess, pressure,
                                   seeds, where, progress)
        guard.start("interface equilibration", md)
        md.run(settings.interface_steps, record=False, check=guard, progress=progress)
        if guard.rows:
            stages["interface"] = guard.rows[-1][1]
        md.isolate()
        guard.start("NPH production", md)
        record = md.run(steps, record=True, check=guard, progress=progress)
        fractions = guard.array()
        bins = settings.profile_bins or int(atoms.info.get("cells", (0, 0, 16))[2]) or 16
        profile = solid_profile(md.positions(), md.cell(), guard.solid, bins)
        n_steps = md.step
    finally:
        md.close()
    return analyse_run(k, record, fractions, len(atoms), settings.timestep,
                       settings.plateau_fraction,
                       trace=chunk_trace(record, fractions, settings.timestep),
                       profile=profile.tolist(), stages=stages, seeds=seeds, n_steps=n_steps,
                       cpu_seconds=time.process_time() - cpu)


def crystal_stage(atoms: Atoms, target: PairPotential, settings: CoexistenceSettings,
                  criterion: SolidityCriterion, t_guess: float, pressure: float, seed: int,
                  progress: Callable[[int], None]) -> dict:
    """NPT of the crystal at (P, T_guess) (timestep at most 1 fs): its mean cell and volume."""
    npt = NPTSettings(timestep=min(settings.timestep, 1e-3), damping=settings.damping,
                      pressure_damping=settings.pressure_damping, stride=settings.stride,
                      chunk=settings.chunk)
    return crystal_cell(atoms, target, t_guess, pressure, steps=settings.crystal_steps,
                        settings=npt, criterion=criterion,
                        min_fraction=settings.fraction_limits[1], seed=seed, progress=progress)


def crystal_stage_steps(settings: CoexistenceSettings) -> int:
    """MD steps of :func:`crystal_stage` (production and the discarded quarter)."""
    s = settings.stride
    steps = max(s, -(-settings.crystal_steps // s) * s)
    return steps + -(-(steps // 4) // s) * s


def build_crystal(structure: str | Atoms, element: str | None,
                  pot: LinearPotential | PairPotential, cells: tuple[int, int, int],
                  volume: float | None, pressure_gpa: float, temperature: float) -> Atoms:
    """The crystal of a run: ``structure`` itself (Atoms), or the prototype with ``cells`` at
    ``volume`` (Å³/atom; default the starting volume at (P GPa, T K))."""
    if isinstance(structure, Atoms):
        return structure.copy()
    element = element or pot.elements[0]
    if volume is None:
        volume = starting_volume(structure, element, pot, pressure_gpa, temperature)
    return crystal(structure, element, volume=volume, cells=cells)


def coexistence_melting(
    structure: str | Atoms, element: str | None,
    potential: str | LinearPotential | PairPotential, *, pressure_GPa: float = 0.0,
    T_guess: float, cells: tuple[int, int, int] = (4, 4, 16), runs: int = 3,
    steps: int = 10_000, timestep: float | None = None, seed: int = 0,
    checkpoint: str | Path | None = None, progress: bool | str = True,
    volume: float | None = None, settings: CoexistenceSettings | None = None,
    criterion: SolidityCriterion | None = None,
) -> CoexistenceResult:
    """Melting temperature at pressure P by solid–liquid coexistence (module docstring).

    Args:
        structure: prototype (``"bcc"``, ``"fcc"``, ``"hcp"``) or a crystal (ASE Atoms, its
            long axis the third cell vector; ``info['structure']`` names the lattice).
        element: chemical symbol (default: the potential's first element).
        potential: ``lammps:NAME``/a path, or a loaded potential.
        pressure_GPa: pressure, GPa.
        T_guess: starting temperature, K; within a few hundred K of T_m (the latent heat of the
            two-phase cell absorbs only a limited mismatch).
        cells: repetitions of the conventional cell, the long axis last (prototypes only).
        runs: independent runs (different seeds); T_m is their mean.
        steps: NPH production steps per run.
        timestep: ps (default: ``settings.timestep``, 2 fs).
        seed: base seed; run k derives its seeds from (seed, k).
        checkpoint: JSON file of finished stages (resumable; more runs can be added later).
        progress: True: a progress bar on stderr; ``"lines"``: one-line reports; False: none.
        volume: starting volume per atom, Å³ (default: a quasi-harmonic estimate at (P, T)).
        settings: the other settings; ``criterion``: the solid-like test (default: the
            lattice's).

    Returns:
        :class:`~phasetune.ti.coexistence_result.CoexistenceResult` (``.T_m``, ``.sigma`` in K).

    Raises:
        CoexistenceError: a run melted or froze completely (the message names the run, its
            solid fraction and what to change).
    """
    settings = settings or CoexistenceSettings()
    if timestep is not None:
        settings = replace(settings, timestep=float(timestep))
    if not T_guess > 0:
        raise PhasetuneError(f"T_guess must be positive, got {T_guess} K")
    if runs < 1 or steps < settings.chunk:
        raise PhasetuneError(f"need at least one run and at least {settings.chunk} production "
                             f"steps (got {runs} runs, {steps} steps)")
    steps = -(-int(steps) // settings.stride) * settings.stride
    pressure = check_pressure(pressure_GPa * GPA_TO_EV_PER_A3)
    pot = load_potential(potential, element) if isinstance(potential, (str, Path)) else potential
    atoms = build_crystal(structure, element, pot, cells, volume, pressure_GPa, T_guess)
    criterion = criterion or criterion_for(str(atoms.info.get("structure", "")))
    with tempfile.TemporaryDirectory() as workdir:
        target = pair_form(pot, workdir)
        cutoff = interaction_cutoff(pot, target)
        cell = check_two_phase_cell(atoms, cutoff, settings.min_half_cutoffs)
        cell.update(n_atoms=len(atoms), cells=list(atoms.info.get("cells", [])))
        spec = {"kind": "coexistence", "structure": describe(atoms),
                "cell": np.round(np.array(atoms.cell), 8).tolist(),
                "potential": target.describe(), "pressure_GPa": float(pressure_GPa),
                "T_guess": float(T_guess), "steps": steps, "seed": seed,
                "settings": settings.to_dict(), "criterion": criterion.to_dict()}
        store = StageStore(checkpoint, spec)
        keys = [f"run {k}" for k in range(runs)]
        per_run = settings.melt_steps + settings.interface_steps + steps
        total = (0 if store.get("crystal") else crystal_stage_steps(settings)) + \
            per_run * sum(store.get(key) is None for key in keys)
        with progress_bar(total, "coexistence", progress) as bar:
            stage = store.get("crystal")
            if stage is None:
                stage = crystal_stage(atoms, target, settings, criterion, T_guess, pressure,
                                      seed, bar.update)
                store.put("crystal", stage)
            start = with_cell(atoms, np.array(stage["cell"]))
            records = []
            for k, key in enumerate(keys):
                done = store.get(key)
                if done is None:
                    try:
                        record = _run_once(k, start, target, criterion, settings, T_guess,
                                           pressure, steps, seed, bar.update)
                    except CoexistenceError as exc:
                        store.put(key, {"failure": {"message": exc.message, "hint": exc.hint}})
                        raise
                    store.put(key, record.to_dict())
                elif "failure" in done:
                    raise CoexistenceError(done["failure"]["message"], done["failure"]["hint"])
                else:
                    record = RunRecord.from_dict(done)
                records.append(record)
    t_m, sigma, sigma_runs, sigma_block = combine_runs(records)
    stage_cpu = stage.get("cpu_seconds", 0.0) + sum(r.cpu_seconds for r in records)
    return CoexistenceResult(
        structure=describe(atoms), potential={**target.describe(), "cutoff": cutoff},
        pressure_GPa=float(pressure_GPa), T_guess=float(T_guess), T_m=t_m, sigma=sigma,
        sigma_runs=sigma_runs, sigma_block=sigma_block,
        pressure_mean_GPa=float(np.mean([r.pressure_GPa for r in records])), runs=records,
        crystal=stage, cell=cell,
        settings={**settings.to_dict(), "steps": steps, "runs": runs, "seed": seed,
                  "criterion": criterion.to_dict()},
        warnings=run_warnings(records, settings.fraction_limits, float(pressure_GPa),
                              float(T_guess), settings.coupling),
        cpu_seconds=stage_cpu)
