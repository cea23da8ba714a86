"""LAMMPS Langevin NPH MD (constant pressure, COM fixed) with a λ-scaled potential.

One :class:`BarostatMD` owns one LAMMPS instance sampling the isothermal–isobaric ensemble of
λ·U_θ at a fixed simulation temperature:

* ``fix langevin T T damp seed zero yes`` + ``fix nph``: the random forces sum to zero and the
  initial momentum is zero, so the centre of mass stays put (``fix momentum`` removes round-off
  drift), exactly as the NVT runs of :mod:`~phasetune.ti.md`.  LAMMPS's pressure then counts
  3N − 3 kinetic degrees of freedom: the instantaneous pressure is (N − 1)k_BT/V_box + virial,
  the pressure of the COM-fixed crystal whose free energy TI measures (F^(3N−3)).
* The barostat is ``iso`` for cubic cells, ``aniso`` for other orthogonal cells and ``tri``
  (zero shear-stress targets) for triclinic cells (hcp), so the cell keeps its symmetry on average.
* U_θ is wrapped in ``pair_style hybrid/scaled v_pt_lam …`` (:func:`~phasetune.ti.md.
  scaled_pair_commands`); λ = 1 is the physical potential.  A sweep ramps λ and the target
  pressure linearly in time together (LAMMPS ``ramp()`` and the Pstart → Pstop ramp of
  ``fix nph``, both spanning the chunked ``run … start … stop …`` commands).

Pressures are eV/Å³ in the Python interface (bar inside LAMMPS).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3
from ..engine.session import Engine, lammps_cell, lammps_float
from ..errors import EngineError, PhasetuneError
from ..potentials.linear import PairPotential
from .md import LAMBDA_VAR, check_run_length, run_recorded, scaled_pair_commands

BAR_PER_EV_A3 = 1e4 / GPA_TO_EV_PER_A3
"""1 eV/Å³ in bar (LAMMPS metal pressure unit)."""

BAROSTAT_ID = "pt_baro"
LANGEVIN_ID = "pt_lgv"
RECORD_ID = "pt_nrec"
STEP = "pt_step"
U_THETA = "pt_ut"
"""Recorded variable: unscaled target energy U_θ, eV (total)."""
VOLUME = "pt_vol"
"""Recorded variable: box volume, Å³."""
PRESSURE = "pt_press"
"""Recorded variable: instantaneous pressure (simulation, λ-scaled), bar."""
LAMBDA_REC = "pt_lamrec"
"""Recorded variable: λ at the recorded step."""
BLOW_UP_SIGNS = ("Lost atoms", "Out of range", "Neighbor list overflow", "neighbor bins",
                 "Non-numeric", "box", "Box", "nan", "inf")
"""Words of LAMMPS errors that mean the cell collapsed or exploded."""
CELL_VARS = ("pt_lx", "pt_ly", "pt_lz", "pt_xy", "pt_xz", "pt_yz")
"""Recorded variables: LAMMPS's lower-triangular cell (lx, ly, lz, xy, xz, yz), Å."""


@dataclass(frozen=True)
class NPTSettings:
    """Settings of the constant-pressure runs.

    Attributes:
        timestep: ps (≤ 0.001).
        damping: Langevin damping time 1/γ, ps (as the NVT TI runs).
        pressure_damping: barostat relaxation time, ps (LAMMPS advises ≈ 1000 timesteps).
        stride: steps between recorded samples.
        chunk: steps between basin/volume checks and progress updates (multiple of stride).
        momentum_every: steps between removals of round-off COM momentum.
        volume_limits: (lowest, highest) allowed V/V_start; outside, the cell has collapsed or
            exploded and the run stops with an error.
    """

    timestep: float = 1e-3
    damping: float = 0.04
    pressure_damping: float = 1.0
    stride: int = 10
    chunk: int = 500
    momentum_every: int = 100
    volume_limits: tuple[float, float] = (0.6, 1.6)

    def __post_init__(self) -> None:
        if not 0 < self.timestep <= 1e-3 + 1e-15:
            raise PhasetuneError(f"timestep {self.timestep} ps is outside (0, 0.001] ps",
                                 "use a timestep of at most 1 fs")
        if self.damping <= 0 or self.pressure_damping <= 0 or self.stride < 1 \
                or self.chunk < self.stride or self.chunk % self.stride:
            raise PhasetuneError("NPT settings need damping > 0, pressure_damping > 0 and a "
                                 "chunk that is a multiple of stride")

    def to_dict(self) -> dict:
        return asdict(self)


def barostat_coupling(cell: np.ndarray) -> str:
    """``iso`` (cubic cell), ``aniso`` (orthogonal) or ``tri`` (triclinic), from a (3, 3) cell."""
    cell = np.asarray(cell, dtype=float)
    lengths = np.linalg.norm(cell, axis=1)
    cos = [cell[i] @ cell[j] / (lengths[i] * lengths[j]) for i, j in ((0, 1), (0, 2), (1, 2))]
    if max(abs(c) for c in cos) > 1e-8:
        return "tri"
    return "iso" if np.ptp(lengths) < 1e-8 * lengths.max() else "aniso"


def to_bar(pressure: float) -> float:
    """eV/Å³ → bar."""
    return float(pressure) * BAR_PER_EV_A3


def cell_from_lammps(values: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """(3, 3) cell in ASE's frame from LAMMPS's (lx, ly, lz, xy, xz, yz) and the engine rotation.
    """
    lx, ly, lz, xy, xz, yz = values
    cell_lmp = np.array([[lx, 0.0, 0.0], [xy, ly, 0.0], [xz, yz, lz]])
    return cell_lmp @ rotation.T


def run_command(engine: Engine, command: str,
                blown_up: Callable[[str], PhasetuneError]) -> None:
    """Send a LAMMPS ``run``; an error that reads as a blow-up becomes ``blown_up(detail)``."""
    try:
        engine.command(command)
    except EngineError as exc:
        if any(word in str(exc) for word in BLOW_UP_SIGNS):
            raise blown_up(re.split(r"ERROR(?: on proc \d+)?: ", str(exc))[-1]) from exc
        raise


class BarostatMD:
    """Langevin NPH (COM fixed) of λ·U_θ at simulation temperature ``temperature``.

    Args:
        atoms: the crystal (species, masses, cell, positions).
        target: the potential.
        temperature: simulation temperature, K.
        settings: integration settings.
        label: text for error messages.
    """

    def __init__(self, atoms: Atoms, target: PairPotential, temperature: float,
                 settings: NPTSettings, label: str = ""):
        if not isinstance(target, PairPotential):
            raise PhasetuneError(f"constant-pressure MD needs a LAMMPS potential, got a "
                                 f"{type(target).__name__}",
                                 "give a LinearPotential or a PairPotential")
        self.settings, self.temperature = settings, float(temperature)
        self.n_atoms = len(atoms)
        self.label = label
        self.engine = Engine(label=label)
        self.step = 0
        self.coupling = barostat_coupling(np.array(atoms.cell))
        self.volume_start = float(atoms.get_volume())
        system = atoms.copy()
        if target.elements and set(system.get_chemical_symbols()) <= set(target.elements):
            system.info = dict(system.info, types=list(target.elements))
        known = set(self.engine.lmp.available_styles("pair"))
        pair_cmds = scaled_pair_commands(target, LAMBDA_VAR, known)
        _, self.rotation = lammps_cell(np.array(atoms.cell))
        extra = ["compute pt_pair all pe pair", f"variable {STEP} equal step",
                 f"variable {U_THETA} equal c_pt_pair/v_{LAMBDA_VAR}",
                 f"variable {VOLUME} equal vol", f"variable {PRESSURE} equal c_thermo_press",
                 f"variable {LAMBDA_REC} equal v_{LAMBDA_VAR}"]
        extra += [f"variable {name} equal {name[3:]}" for name in CELL_VARS]
        self.engine.load_structure(system, [f"variable {LAMBDA_VAR} equal 1.0", *pair_cmds],
                                   extra=extra, context=f"setting up NPT MD of {target.name}")
        if self.coupling == "tri":
            self.engine.command("box tilt large")
        self.engine.commands([
            f"timestep {lammps_float(settings.timestep)}",
            f"fix pt_mom all momentum {settings.momentum_every} linear 1 1 1",
            "thermo 0",
        ])
        self.lam = (1.0, 1.0)
        self.pressure = (0.0, 0.0)
        self.fraction = 0.0
        """Fraction of the current :meth:`run` done (for the λ reached, see :meth:`lam_now`)."""

    # -- state --------------------------------------------------------------------------------
    def set_velocities(self, velocities: np.ndarray) -> None:
        """Velocities (N, 3) Å/ps in ASE's frame (give zero total momentum)."""
        self.engine.set_velocities(velocities)

    def set_thermostat(self, seed: int) -> None:
        """(Re)create the Langevin thermostat (after the barostat, as LAMMPS wants)."""
        if self.engine.lmp.has_id("fix", LANGEVIN_ID):
            self.engine.command(f"unfix {LANGEVIN_ID}")
        t = lammps_float(self.temperature)
        self.engine.command(f"fix {LANGEVIN_ID} all langevin {t} {t} "
                            f"{lammps_float(self.settings.damping)} {int(seed)} zero yes")

    def set_path(self, lam: tuple[float, float], pressure: tuple[float, float], seed: int,
                 barostat: bool = True) -> None:
        """λ and the simulation pressure (eV/Å³) ramped linearly from the first to the second
        value over the next :meth:`run` (equal values: constant).  Recreates the barostat (its
        momentum restarts from zero) and the thermostat.  ``barostat=False``: constant volume
        (``fix nve`` + Langevin), e.g. to measure the pressure at a fixed cell."""
        if not all(0.0 < x <= 1.0 for x in lam):
            raise PhasetuneError(f"λ = {lam} must lie in (0, 1]")
        self.lam, self.pressure = (float(lam[0]), float(lam[1])), tuple(map(float, pressure))
        l0, l1 = map(lammps_float, self.lam)
        formula = l0 if lam[0] == lam[1] else f"ramp({l0},{l1})"
        self.engine.command(f"variable {LAMBDA_VAR} equal {formula}")
        if self.engine.lmp.has_id("fix", BAROSTAT_ID):
            self.engine.command(f"unfix {BAROSTAT_ID}")
        p0, p1 = (lammps_float(to_bar(p)) for p in self.pressure)
        damp = lammps_float(self.settings.pressure_damping)
        if self.coupling == "tri":
            spec = " ".join(f"{d} {p0} {p1} {damp}" for d in ("x", "y", "z")) + \
                " " + " ".join(f"{d} 0.0 0.0 {damp}" for d in ("xy", "xz", "yz"))
        else:
            spec = f"{self.coupling} {p0} {p1} {damp}"
        if barostat:
            self.engine.command(f"fix {BAROSTAT_ID} all nph {spec}")
        else:
            self.engine.command(f"fix {BAROSTAT_ID} all nve")
        self.set_thermostat(seed)

    def positions(self) -> np.ndarray:
        """Current positions (N, 3) Å, ASE frame of the *starting* cell orientation."""
        return self.engine.positions()

    def cell(self) -> np.ndarray:
        """Current cell (3, 3) Å, rows a, b, c, ASE frame."""
        values = np.array([self.engine.lmp.extract_variable(name) for name in CELL_VARS])
        return cell_from_lammps(values, self.rotation)

    def lam_now(self) -> float:
        """λ reached in the current run (linear ramp)."""
        return self.lam[0] + (self.lam[1] - self.lam[0]) * self.fraction

    def volume(self) -> float:
        return float(self.engine.lmp.extract_variable(VOLUME))

    # -- running ------------------------------------------------------------------------------
    def run(self, n_steps: int, record: Sequence[str] = (U_THETA, VOLUME, PRESSURE),
            check: Callable[[BarostatMD], None] | None = None,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Run ``n_steps`` (a multiple of ``stride``) along the current path.

        Args:
            record: equal-style variables recorded every ``stride`` steps.
            check: called with this object after every chunk (basin guard); the volume limits
                are always checked.
            progress: called with the number of steps done after every chunk.

        Returns:
            (n_records, 1 + len(record)): the step since the start of this run, then the
            recorded values.
        """
        check_run_length(n_steps, self.settings.stride)
        values = " ".join(f"v_{name}" for name in (STEP, *record))
        first = self.step
        self.fraction = 0.0

        def run(n: int) -> None:
            run_command(self.engine, f"run {n} start {first} stop {first + n_steps} post no",
                        self._blown_up)

        def after(n: int, done: int) -> None:
            self.step += n
            self.fraction = done / n_steps
            self._check_volume()
            if check is not None:
                check(self)
            if progress is not None:
                progress(n)

        out = run_recorded(self.engine, RECORD_ID, n_steps, self.settings.stride,
                           self.settings.chunk, values if record else "", len(record) + 1,
                           run, after)
        out[:, 0] -= first
        return out

    def _check_volume(self) -> None:
        v = self.volume()
        lo, hi = self.settings.volume_limits
        ratio = v / self.volume_start
        if not np.isfinite(v) or not lo <= ratio <= hi:
            raise self._blown_up(f"V/V_start = {ratio:.3g} (allowed {lo:g}–{hi:g})")

    def _blown_up(self, detail: str) -> PhasetuneError:
        lam = self.lam_now()
        p = self.pressure[0] / self.lam[0] / GPA_TO_EV_PER_A3  # physical P = P_sim/λ
        return PhasetuneError(
            f"{self.label}: the cell collapsed or exploded under P = {p:g} GPa at "
            f"{self.temperature / lam:.0f} K: {detail}",
            "give a pressure at which this crystal is mechanically stable (GPa on the command "
            "line), or start from a volume closer to equilibrium")

    def close(self) -> None:
        self.engine.close()
