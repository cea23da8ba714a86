"""Mean volume at (P, T) by constant-pressure MD, and the pressure at a fixed cell.

:func:`npt_volume` equilibrates a crystal with Langevin NPH dynamics (COM fixed, see
:mod:`~phasetune.ti.barostat`) and returns the mean cell and the mean volume per atom with a
block-averaged standard error (:func:`~phasetune.ti.stats.summarize_series`).
:func:`nvt_pressure` measures ⟨P⟩ at a fixed cell (Langevin NVT, COM fixed), the check that the
mean cell of an NPT run is at the requested pressure.  Pressures are eV/Å³, volumes Å³/atom.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3, KB
from ..errors import PhasetuneError
from ..harmonic.reference import describe
from ..model import HarmonicReference
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from ..structures.crystals import check_cell_size
from .barostat import (
    BAR_PER_EV_A3,
    CELL_VARS,
    PRESSURE,
    U_THETA,
    VOLUME,
    BarostatMD,
    NPTSettings,
    cell_from_lammps,
)
from .basin import BasinGuard
from .md import lammps_seed
from .stats import summarize_series

MAX_PRESSURE = 1e3 * GPA_TO_EV_PER_A3
"""Largest |P| accepted (1000 GPa, eV/Å³): beyond it no interatomic potential is meaningful."""


def check_pressure(pressure: float) -> float:
    """A finite pressure (eV/Å³) of magnitude ≤ MAX_PRESSURE, else a one-line error."""
    p = float(pressure)
    if not np.isfinite(p) or abs(p) > MAX_PRESSURE:
        raise PhasetuneError(f"pressure {p / GPA_TO_EV_PER_A3:g} GPa is not a usable pressure",
                             "give a finite pressure within ±1000 GPa (GPa on the command "
                             "line, eV/Å³ in Python)")
    return p


def site_reference(atoms: Atoms) -> HarmonicReference:
    """The positions of ``atoms`` as sites (no modes): what the basin guard compares with."""
    return HarmonicReference(
        phase=str(atoms.info.get("structure", "")), n_atoms=len(atoms),
        mass=float(atoms.get_masses()[0]), volume=atoms.get_volume() / len(atoms),
        cell=np.array(atoms.cell), positions=np.array(atoms.positions),
        n_trans=int(atoms.info.get("n_trans", len(atoms))), D0=np.empty(0), E0=0.0,
        omega=np.empty(0))


def scaled_to(positions: np.ndarray, cell: np.ndarray, reference_cell: np.ndarray) -> np.ndarray:
    """Positions (N, 3) in ``cell`` mapped to the same fractional coordinates in
    ``reference_cell`` (to compare a constant-pressure snapshot with fixed sites)."""
    return np.linalg.solve(np.asarray(cell).T, np.asarray(positions).T).T @ reference_cell


def with_cell(atoms: Atoms, cell: np.ndarray) -> Atoms:
    """A copy of ``atoms`` homogeneously rescaled to ``cell`` (same fractional coordinates)."""
    out = atoms.copy()
    out.set_cell(np.asarray(cell, dtype=float), scale_atoms=True)
    out.info = dict(atoms.info, volume=out.get_volume() / len(out))
    return out


class NPTGuard:
    """Basin guard for a cell that changes: snapshots are mapped to the starting cell first.

    A live check after every chunk (largest site displacement < ½ d_nn, COM drift removed); a
    quench-and-identify check (:meth:`~phasetune.ti.basin.BasinGuard.check_quench`) on demand.
    """

    def __init__(self, atoms: Atoms, potential: PairPotential | None, context: str):
        self.cell0 = np.array(atoms.cell)
        self.guard = BasinGuard(site_reference(atoms), atoms, potential, context=context)

    def mapped(self, md: BarostatMD) -> np.ndarray:
        return scaled_to(md.positions(), md.cell(), self.cell0)

    def __call__(self, md: BarostatMD) -> None:
        self.guard.check_live(self.mapped(md))

    def quench(self, md: BarostatMD) -> dict:
        return self.guard.check_quench(self.mapped(md))

    def diagnostics(self) -> dict:
        return self.guard.diagnostics()

    def close(self) -> None:
        self.guard.close()


@dataclass
class VolumeResult:
    """Mean volume of a crystal at (P, T) from constant-pressure MD (COM fixed).

    Attributes:
        structure: description of the starting crystal.
        temperature: K.
        pressure: requested pressure, eV/Å³.
        volume: ⟨V⟩/N, Å³/atom.
        sigma_volume: its standard error (blocking / statistical inefficiency), Å³/atom.
        cell: (3, 3) mean cell, Å (rows a, b, c, frame of the starting cell).
        pressure_mean: ⟨P⟩ of the NPT run itself, eV/Å³ (equals ``pressure`` when equilibrated).
        pressure_error: its standard error, eV/Å³.
        energy: ⟨U_θ⟩/N, eV/atom, and ``energy_error``.
        bulk_modulus: isothermal B = k_BT⟨V_box⟩/Var(V_box) from the volume fluctuations,
            eV/Å³ (a rough estimate: fluctuations converge slowly).
        coupling: barostat coupling (iso, aniso, tri).
        series: equilibration summary of the volume series.
        diagnostics: basin guard figures.
        n_steps: MD steps run; ``cpu_seconds``: process CPU time, s.
    """

    structure: str
    temperature: float
    pressure: float
    volume: float
    sigma_volume: float
    cell: np.ndarray
    pressure_mean: float
    pressure_error: float
    energy: float
    energy_error: float
    bulk_modulus: float
    coupling: str
    series: dict
    diagnostics: dict = field(default_factory=dict)
    n_steps: int = 0
    cpu_seconds: float = 0.0
    seed: int = 0

    @property
    def equilibrated(self) -> bool:
        return bool(self.series.get("equilibrated", True))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["cell"] = np.asarray(self.cell).tolist()
        d["pressure_GPa"] = self.pressure / GPA_TO_EV_PER_A3
        d["pressure_mean_GPa"] = self.pressure_mean / GPA_TO_EV_PER_A3
        d["pressure_error_GPa"] = self.pressure_error / GPA_TO_EV_PER_A3
        d["bulk_modulus_GPa"] = self.bulk_modulus / GPA_TO_EV_PER_A3
        return d

    @classmethod
    def from_dict(cls, data: dict) -> VolumeResult:
        kwargs = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        kwargs["cell"] = np.array(kwargs["cell"])
        return cls(**kwargs)


def npt_volume(atoms: Atoms, potential: LinearPotential | PairPotential, temperature: float,
               pressure: float = 0.0, *, steps: int = 10_000, equilibration: int | None = None,
               seed: int = 0, settings: NPTSettings | None = None, basin: bool = True,
               progress: Callable[[int], None] | None = None) -> VolumeResult:
    """Mean volume per atom (and mean cell) of a crystal at pressure P and temperature T by MD.

    Langevin NPH with the centre of mass fixed (:mod:`~phasetune.ti.barostat`): ``iso`` for a
    cubic cell, ``aniso`` for another orthogonal cell, ``tri`` otherwise.

    Args:
        atoms: the starting crystal (its positions are the sites of the basin guard).
        potential: the LAMMPS potential.
        temperature: K.
        pressure: eV/Å³ (1 GPa = ``phasetune.constants.GPA_TO_EV_PER_A3``).
        steps: production steps (recorded every ``settings.stride``).
        equilibration: steps discarded first (default: a quarter of ``steps``); the automatic
            equilibration detection may discard more.
        seed: seeds the velocities and the thermostat.
        settings: integration and barostat settings.
        basin: stop with :class:`~phasetune.ti.basin.CrystalLeftBasinError` if the crystal
            melts or transforms (live displacement check, and a quench at the end).
        progress: called with the number of steps done after every chunk.

    Returns:
        :class:`VolumeResult` (volume and sigma_volume in Å³/atom).
    """
    if not temperature > 0:
        raise PhasetuneError(f"temperature must be positive, got {temperature} K")
    pressure = check_pressure(pressure)
    settings = settings or NPTSettings()
    stride = settings.stride
    steps = max(stride, -(-int(steps) // stride) * stride)
    eq = steps // 4 if equilibration is None else int(equilibration)
    eq = -(-eq // stride) * stride
    where = (f"{describe(atoms)} at {temperature:g} K and "
             f"{pressure / GPA_TO_EV_PER_A3:g} GPa (NPT)")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 4, int(round(temperature * 1000))]))
    cpu = time.process_time()
    with ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        target = pair_form(potential, workdir)
        if target.cutoff:
            check_cell_size(atoms, target.cutoff)
        guard = None
        if basin:
            guard = NPTGuard(atoms, target, where)
            stack.callback(guard.close)
        md = BarostatMD(atoms, target, temperature, settings, label=where)
        stack.callback(md.close)
        md.set_velocities(site_reference(atoms).sample_velocities(rng, temperature))
        md.set_path((1.0, 1.0), (pressure, pressure), lammps_seed(rng))
        if eq:
            md.run(eq, record=(), check=guard, progress=progress)
        rec = md.run(steps, record=(VOLUME, PRESSURE, U_THETA, *CELL_VARS), check=guard,
                     progress=progress)
        if guard is not None:
            guard.quench(md)
        n_steps = md.step
    n = len(atoms)
    vol = summarize_series(rec[:, 1] / n)
    kept = rec[vol.discarded:]
    p = summarize_series(rec[:, 2] / BAR_PER_EV_A3)
    u = summarize_series(rec[:, 3] / n)
    cell = cell_from_lammps(kept[:, 4:10].mean(axis=0), md.rotation)
    var = float(np.var(kept[:, 1], ddof=1)) if len(kept) > 1 else 0.0
    bulk = KB * temperature * float(kept[:, 1].mean()) / var if var > 0 else float("nan")
    return VolumeResult(structure=describe(atoms), temperature=float(temperature),
                        pressure=pressure, volume=vol.mean, sigma_volume=vol.error, cell=cell,
                        pressure_mean=p.mean, pressure_error=p.error, energy=u.mean,
                        energy_error=u.error, bulk_modulus=bulk, coupling=md.coupling,
                        series=vol.to_dict(),
                        diagnostics=guard.diagnostics() if guard else {}, n_steps=n_steps,
                        cpu_seconds=time.process_time() - cpu, seed=seed)


def nvt_pressure(atoms: Atoms, potential: LinearPotential | PairPotential, temperature: float,
                 *, steps: int = 4000, seed: int = 0,
                 settings: NPTSettings | None = None) -> tuple[float, float]:
    """⟨P⟩ and its standard error (eV/Å³) at the fixed cell of ``atoms`` (Langevin NVT, COM
    fixed, so the kinetic part is (N − 1)k_BT/V_box as in the NPT runs).  A quarter of
    ``steps`` is discarded first."""
    settings = settings or NPTSettings()
    stride = settings.stride
    steps = max(stride, -(-int(steps) // stride) * stride)
    eq = -(-(steps // 4) // stride) * stride
    rng = np.random.default_rng(np.random.SeedSequence([seed, 5, int(round(temperature * 1000))]))
    with ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        target = pair_form(potential, workdir)
        md = BarostatMD(atoms, target, temperature, settings,
                        label=f"{describe(atoms)} at {temperature:g} K (NVT pressure)")
        stack.callback(md.close)
        md.set_velocities(site_reference(atoms).sample_velocities(rng, temperature))
        md.set_path((1.0, 1.0), (0.0, 0.0), lammps_seed(rng), barostat=False)
        if eq:
            md.run(eq, record=())
        rec = md.run(steps, record=(PRESSURE,))
    s = summarize_series(rec[:, 1] / BAR_PER_EV_A3)
    return s.mean, s.error
