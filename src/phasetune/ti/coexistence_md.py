"""LAMMPS MD of a two-phase (solid–liquid) cell: melt one half, join the phases, then NPH.

One :class:`TwoPhaseMD` owns one LAMMPS instance and runs the stages of a coexistence run:

1. :meth:`~TwoPhaseMD.melt`: the cold half is frozen (zero velocities, ``fix setforce 0 0 0``,
   not integrated) while a Langevin thermostat restricted to the hot half melts it at a high
   temperature; the long axis follows the pressure (``fix nph`` on z; the frozen atoms, with
   zero velocity and force, only follow the dilation of the box).
2. :meth:`~TwoPhaseMD.release`: every atom moves; the cold half gets Maxwell–Boltzmann velocities,
   and a Langevin thermostat on all atoms plus ``fix nph`` cool the liquid and equilibrate the
   interfaces at (P, T).  (Cooling the liquid while the crystal is still frozen would let the
   perfect frozen planes template the neighbouring liquid and thin the liquid slab.)
3. :meth:`~TwoPhaseMD.isolate`: the thermostat is removed: NPH, constant enthalpy, so latent heat
   drives the temperature to the melting point while both phases coexist.

Pressure coupling (``fix nph``): ``"z"`` couples only the long axis to P (the cross-section stays
that of the crystal equilibrated at the guess temperature), ``"aniso"`` couples x, y and z
independently.
Recorded every ``stride`` steps: T (K), P and P_zz (bar), potential energy (eV), volume (Å³),
lx, ly, lz (Å) and the conserved energy of the integrator (eV).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms

from ..engine.session import Engine, lammps_float
from ..errors import PhasetuneError
from ..potentials.linear import PairPotential
from .barostat import BAR_PER_EV_A3, CELL_VARS, cell_from_lammps, run_command
from .md import check_run_length, run_recorded

COUPLINGS = ("z", "aniso")
HOT, COLD = "pt_hot", "pt_cold"
BAROSTAT_ID, LANGEVIN_ID, FREEZE_ID, RECORD_ID = "pt_baro", "pt_lgv", "pt_frz", "pt_crec"
RECORDED = {"T": "c_thermo_temp", "P": "c_thermo_press", "P_zz": "c_thermo_press[3]",
            "U": "c_thermo_pe", "V": "vol", "lx": "lx", "ly": "ly", "lz": "lz",
            "E_conserved": "c_thermo_pe+c_pt_ke+ecouple"}
"""Recorded quantities (name → LAMMPS expression): K, bar, bar, eV, Å³, Å, Å, Å, eV."""
IDS_PER_COMMAND = 200


class CoexistenceError(PhasetuneError):
    """A coexistence run lost one of its phases (or never made the liquid): no T_m from it."""


class TwoPhaseMD:
    """One LAMMPS instance running the stages of a solid–liquid coexistence run.

    Args:
        atoms: the equilibrated crystal (its cell is the cell of the run).
        target: the potential.
        hot: (N,) bool, the atoms to melt.
        timestep: ps.
        damping: Langevin damping time, ps.
        pressure_damping: barostat relaxation time, ps.
        stride: steps between recorded samples.
        chunk: steps between checks (solid fraction) and progress updates.
        coupling: ``"z"`` or ``"aniso"`` (module docstring).
        label: text for error messages.
    """

    def __init__(self, atoms: Atoms, target: PairPotential, hot: np.ndarray, *,
                 timestep: float, damping: float, pressure_damping: float, stride: int,
                 chunk: int, coupling: str, label: str = ""):
        if coupling not in COUPLINGS:
            raise PhasetuneError(f"unknown pressure coupling {coupling!r}",
                                 f"choose one of {', '.join(COUPLINGS)}")
        hot = np.asarray(hot, dtype=bool)
        if hot.shape != (len(atoms),) or hot.all() or not hot.any():
            raise PhasetuneError("the hot half must hold some but not all atoms")
        self.n_atoms, self.label = len(atoms), label
        self.timestep, self.damping = float(timestep), float(damping)
        self.pressure_damping, self.coupling = float(pressure_damping), coupling
        self.stride, self.chunk = int(stride), int(chunk)
        self.volume_start = float(atoms.get_volume())
        self.step = 0
        self.temperature = 0.0
        self.engine = Engine(label=label)
        system = atoms.copy()
        if target.elements and set(system.get_chemical_symbols()) <= set(target.elements):
            system.info = dict(system.info, types=list(target.elements))
        extra = ["variable pt_step equal step", "compute pt_ke all ke"]
        extra += [f"variable pt_r{k} equal {expr}" for k, expr in enumerate(RECORDED.values())]
        extra += [f"variable {name} equal {name[3:]}" for name in CELL_VARS]
        self.engine.load_structure(system, target.commands(), extra=extra,
                                   context=f"setting up two-phase MD of {target.name}")
        self.rotation = self.engine.rotation
        ids = np.flatnonzero(hot) + 1
        for start in range(0, len(ids), IDS_PER_COMMAND):
            words = " ".join(map(str, ids[start:start + IDS_PER_COMMAND]))
            self.engine.command(f"group {HOT} id {words}")
        self.engine.commands([f"group {COLD} subtract all {HOT}",
                              f"timestep {lammps_float(timestep)}", "thermo 0"])

    # -- stages -------------------------------------------------------------------------------
    def _unfix(self, *ids: str) -> None:
        for fix_id in ids:
            if self.engine.lmp.has_id("fix", fix_id):
                self.engine.command(f"unfix {fix_id}")

    def _thermostat(self, group: str, temperature: float, seed: int) -> None:
        self._unfix(LANGEVIN_ID)
        t = lammps_float(temperature)
        self.engine.command(f"fix {LANGEVIN_ID} {group} langevin {t} {t} "
                            f"{lammps_float(self.damping)} {int(seed)} zero yes")
        self.temperature = float(temperature)

    def _barostat(self, group: str, axes: tuple[str, ...], pressure: float) -> None:
        p = lammps_float(pressure * BAR_PER_EV_A3)
        damp = lammps_float(self.pressure_damping)
        spec = " ".join(f"{axis} {p} {p} {damp}" for axis in axes)
        self._unfix(BAROSTAT_ID)
        self.engine.command(f"fix {BAROSTAT_ID} {group} nph {spec} couple none")

    def melt(self, t_hot: float, pressure: float, melt_steps: int, seeds: tuple[int, int],
             progress: Callable[[int], None] | None = None) -> None:
        """Melt the hot half at ``t_hot`` (K), the cold half frozen.  The long axis follows
        ``pressure`` (eV/Å³), so the liquid expands as it melts (a liquid held at the crystal's
        density stays under a large pressure, which raises its melting point); the frozen
        atoms keep their scaled coordinates, so the frozen crystal is stretched with the box
        until it is released."""
        self.engine.commands([
            f"velocity {COLD} set 0.0 0.0 0.0",
            f"fix {FREEZE_ID} {COLD} setforce 0.0 0.0 0.0",
            f"velocity {HOT} create {lammps_float(t_hot)} {int(seeds[0])} mom yes rot no "
            "dist gaussian",
        ])
        self._barostat("all", ("z",), pressure)
        self._thermostat(HOT, t_hot, seeds[1])
        self.run(melt_steps, record=False, progress=progress)
        self._unfix(LANGEVIN_ID, BAROSTAT_ID, FREEZE_ID)

    def release(self, temperature: float, pressure: float, seeds: tuple[int, int]) -> None:
        """All atoms move: Maxwell–Boltzmann velocities at ``temperature`` (K) for the cold half,
        zero total momentum, Langevin on all atoms and ``fix nph`` at ``pressure`` (eV/Å³)."""
        self.engine.commands([
            f"velocity {COLD} create {lammps_float(temperature)} {int(seeds[0])} mom yes rot no "
            "dist gaussian",
            "velocity all zero linear",
        ])
        self._barostat("all", ("x", "y", "z") if self.coupling == "aniso" else ("z",), pressure)
        self._thermostat("all", temperature, seeds[1])

    def isolate(self) -> None:
        """Remove the thermostat: constant-enthalpy (NPH) dynamics from now on."""
        self._unfix(LANGEVIN_ID)
        self.temperature = 0.0

    # -- state --------------------------------------------------------------------------------
    def positions(self) -> np.ndarray:
        """Current positions (N, 3) Å, ASE frame, wrapped into the current cell."""
        return self.engine.positions()

    def cell(self) -> np.ndarray:
        """Current cell (3, 3) Å, rows a, b, c, ASE frame."""
        values = np.array([self.engine.lmp.extract_variable(name) for name in CELL_VARS])
        return cell_from_lammps(values, self.rotation)

    def value(self, name: str) -> float:
        """The current value of a recorded quantity (a key of :data:`RECORDED`)."""
        k = list(RECORDED).index(name)
        return float(self.engine.lmp.extract_variable(f"pt_r{k}"))

    # -- running ------------------------------------------------------------------------------
    def run(self, n_steps: int, record: bool = True,
            check: Callable[[TwoPhaseMD], None] | None = None,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Run ``n_steps`` (a multiple of ``stride``) in chunks.

        Args:
            record: store the :data:`RECORDED` quantities every ``stride`` steps.
            check: called with this object after every chunk (e.g. the solid-fraction guard).
            progress: called with the number of steps done after every chunk.

        Returns:
            (n_records, 1 + len(RECORDED)): the step since the start of this run, then the
            recorded values in the order of :data:`RECORDED` (empty without ``record``).
        """
        check_run_length(n_steps, self.stride)
        names = " ".join(f"v_pt_r{k}" for k in range(len(RECORDED)))
        first = self.step

        def after(n: int, done: int) -> None:
            self.step += n
            self._check_volume()
            if check is not None:
                check(self)
            if progress is not None:
                progress(n)

        out = run_recorded(self.engine, RECORD_ID, n_steps, self.stride, self.chunk,
                           f"v_pt_step {names}" if record else "", len(RECORDED) + 1,
                           lambda n: run_command(self.engine, f"run {n} post no",
                                                 self._blown_up), after)
        out[:, 0] -= first
        return out

    def _check_volume(self) -> None:
        ratio = self.value("V") / self.volume_start
        if not np.isfinite(ratio) or not 0.6 <= ratio <= 1.6:
            raise self._blown_up(f"V/V_start = {ratio:.3g} (allowed 0.6–1.6)")

    def _blown_up(self, detail: str) -> PhasetuneError:
        return PhasetuneError(f"{self.label}: the two-phase cell collapsed or exploded: {detail}",
                              "use a smaller --timestep, or start closer to the melting point "
                              "(--T-guess)")

    def close(self) -> None:
        self.engine.close()
