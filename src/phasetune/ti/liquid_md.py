"""LAMMPS Langevin NVT MD of a liquid under U = a·U_θ + b·U_UF (target and Uhlenbeck–Ford).

One :class:`LiquidMD` owns one LAMMPS instance:

* ``pair_style hybrid/scaled v_pt_lam <target sub-styles> v_pt_uflam ufm r_c``: the target's
  sub-styles all scaled by a (:func:`~phasetune.ti.md.scaled_pair_commands`), the UF reference
  by b.  The λ-switch runs (a, b) = (λ, 1 − λ); the UF leg (no target) runs (0, λ′).
* ``compute pair ufm`` gives the unscaled U_UF; U_θ = (E_pair − b·U_UF)/a.  Both are recorded
  (total, eV) every ``stride`` steps by a ``fix vector``, with the virial pressure.
* ``fix langevin … zero yes`` + ``fix nve`` + ``fix momentum``: the centre of mass stays put,
  as in the crystal runs.  Configurational averages of translation-invariant energies are the
  same with a fixed or a free COM, so the liquid's free energies need no COM correction here.

Runs proceed in chunks; after each chunk a ``check`` callback receives the MD object (liquid
checks read positions and the time from it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from ..engine.session import Engine, lammps_float
from ..errors import PhasetuneError
from ..potentials.linear import PairPotential
from .md import (
    LAMBDA_VAR,
    check_md_settings,
    check_run_length,
    lammps_seed,
    run_recorded,
    scaled_pair_commands,
)
from .uhlenbeck_ford import UF_STYLE, UFSettings

UF_LAMBDA_VAR = "pt_uflam"
RECORD_ID = "pt_lrec"
LANGEVIN_ID = "pt_lgv"
STEP = "pt_step"
U_THETA = "pt_ut"
"""Recorded variable: target energy U_θ, eV (total, unscaled; 0 without a target)."""
U_UF = "pt_uu"
"""Recorded variable: UF energy U_UF, eV (total, unscaled)."""
P_VIRIAL = "pt_pvir"
"""Recorded variable: virial pressure of the mixed potential, bar."""

MAX_TIMESTEP = 2e-3
"""Largest accepted timestep, ps (2 fs conserved energy for liquid Mo at 3200 K, docs/ti.md)."""


@dataclass(frozen=True)
class LiquidMDSettings:
    """Integration settings of the liquid runs.

    Attributes:
        timestep: ps (≤ 2 fs).
        damping: Langevin damping time 1/γ, ps (0.1 ps: configurations decorrelate by
            diffusion, which strong damping would slow).
        stride: steps between recorded samples.
        chunk: steps between liquid checks and progress updates (a multiple of ``stride``).
        momentum_every: steps between removals of round-off COM momentum.
    """

    timestep: float = 1e-3
    damping: float = 0.1
    stride: int = 10
    chunk: int = 250
    momentum_every: int = 100

    def __post_init__(self) -> None:
        check_md_settings(self, MAX_TIMESTEP)

    def to_dict(self) -> dict:
        return asdict(self)


def mixed_pair_commands(target: PairPotential | None, uf: UFSettings, temperature: float,
                        known_styles: Collection[str]) -> tuple[list[str], str]:
    """``pair_style hybrid/scaled`` commands of a·U_θ + b·U_UF.

    Returns:
        (commands, the ``compute pair`` arguments selecting the UF sub-style).  A target that
        is itself a plain ``ufm`` gets sub-style index 1 and the reference index 2.
    """
    if target is None:
        style, coeff = uf.commands(temperature)
        return ([f"pair_style hybrid/scaled v_{UF_LAMBDA_VAR} {style}",
                 f"pair_coeff * * {coeff}"], UF_STYLE)
    cmds = scaled_pair_commands(target, LAMBDA_VAR, known_styles)
    index = None
    if UF_STYLE in target.pair_style:
        if target.pair_style[0] != UF_STYLE:
            raise PhasetuneError("a hybrid target containing pair_style ufm cannot be switched to "
                                 "the Uhlenbeck–Ford reference")
        cmds = [cmds[0]] + [line.replace(f" {UF_STYLE} ", f" {UF_STYLE} 1 ", 1)
                            for line in cmds[1:]]
        index = 2
    style, coeff = uf.commands(temperature, index)
    cmds[0] += f" v_{UF_LAMBDA_VAR} {style}"
    cmds.append(f"pair_coeff * * {coeff}")
    return cmds, UF_STYLE if index is None else f"{UF_STYLE} {index}"


def maxwell_velocities(rng: np.random.Generator, temperature: float,
                       masses: np.ndarray) -> np.ndarray:
    """Maxwell–Boltzmann velocities (N, 3) Å/ps with zero total momentum."""
    from ..constants import CU, KB

    m = np.asarray(masses, dtype=float)[:, None]
    v = rng.normal(size=(len(m), 3)) * np.sqrt(CU * KB * temperature / m)
    return v - (m * v).sum(axis=0) / m.sum()


class LiquidMD:
    """Langevin NVT (COM fixed) of a·U_θ + b·U_UF for one liquid cell.

    Args:
        atoms: species, masses, cell and starting positions.
        target: the potential of interest, or None for the UF leg alone.
        uf: the UF reference (ε = p·k_BT at ``temperature``).
        temperature: K.
        settings: integration settings.
        label: text for error messages.
    """

    def __init__(self, atoms: Atoms, target: PairPotential | None, uf: UFSettings,
                 temperature: float, settings: LiquidMDSettings, label: str = ""):
        self.target, self.uf = target, uf
        self.temperature, self.settings = float(temperature), settings
        self.n_atoms = len(atoms)
        self.masses = atoms.get_masses()
        self.cell = np.array(atoms.cell)
        self.volume_box = float(atoms.get_volume())
        self.engine = Engine(label=label)
        self.step = 0
        self.coupling = (1.0, 0.0) if target is not None else (0.0, 1.0)
        system = atoms.copy()
        if target is not None and target.elements and \
                set(system.get_chemical_symbols()) <= set(target.elements):
            system.info = dict(system.info, types=list(target.elements))
        known = set(self.engine.lmp.available_styles("pair"))
        pair_cmds, uf_compute = mixed_pair_commands(target, uf, temperature, known)
        a, b = self.coupling
        variables = [f"variable {LAMBDA_VAR} equal {lammps_float(a)}",
                     f"variable {UF_LAMBDA_VAR} equal {lammps_float(b)}"]
        extra = ["compute pt_pair all pe pair", f"compute pt_uf all pair {uf_compute}",
                 "compute pt_pvir all pressure NULL virial", f"variable {STEP} equal step",
                 f"variable {U_UF} equal c_pt_uf", f"variable {P_VIRIAL} equal c_pt_pvir"]
        u_theta = f"(c_pt_pair-v_{UF_LAMBDA_VAR}*c_pt_uf)/v_{LAMBDA_VAR}" \
            if target is not None else "0.0"
        name = target.name if target is not None else "the Uhlenbeck–Ford reference"
        self.engine.load_structure(system, [*variables, *pair_cmds],
                                   extra=[*extra, f"variable {U_THETA} equal {u_theta}"],
                                   context=f"setting up liquid MD of {name}")
        self.engine.commands([
            f"timestep {lammps_float(settings.timestep)}",
            "fix pt_nve all nve",
            f"fix pt_mom all momentum {settings.momentum_every} linear 1 1 1",
            "thermo 0",
        ])

    # -- state --------------------------------------------------------------------------------
    def set_coupling(self, target_scale: float, uf_scale: float) -> None:
        """U = a·U_θ + b·U_UF with a = ``target_scale`` (> 0 with a target, 0 without) and
        b = ``uf_scale`` ≥ 0."""
        if uf_scale < 0 or target_scale < 0 or target_scale + uf_scale <= 0:
            raise PhasetuneError(f"invalid coupling ({target_scale}, {uf_scale})")
        if self.target is None and target_scale != 0:
            raise PhasetuneError("the UF leg has no target to couple")
        if self.target is not None and target_scale == 0:
            raise PhasetuneError("λ = 0 exactly is not sampled with a target",
                                 "Gauss–Legendre nodes are > 0")
        self.coupling = (float(target_scale), float(uf_scale))
        self.engine.commands([f"variable {LAMBDA_VAR} equal {lammps_float(target_scale)}",
                              f"variable {UF_LAMBDA_VAR} equal {lammps_float(uf_scale)}"])

    def set_positions(self, positions: np.ndarray) -> None:
        """Positions (N, 3) Å (ASE frame); image flags reset."""
        self.engine.command("set group all image 0 0 0")
        self.engine.set_positions(positions)

    def set_velocities(self, velocities: np.ndarray) -> None:
        self.engine.set_velocities(velocities)

    def draw_velocities(self, rng: np.random.Generator, temperature: float | None = None) -> None:
        """Maxwell velocities at ``temperature`` (default the MD's), zero total momentum."""
        t = self.temperature if temperature is None else temperature
        self.engine.set_velocities(maxwell_velocities(rng, t, self.masses))

    def positions(self) -> np.ndarray:
        """Current positions (N, 3) Å, wrapped into the cell."""
        return self.engine.positions()

    @property
    def time(self) -> float:
        """Simulated time since the start, ps."""
        return self.step * self.settings.timestep

    def set_thermostat(self, seed: int, temperature: float | None = None) -> None:
        """(Re)create the Langevin thermostat at ``temperature`` (default the MD's)."""
        if self.engine.lmp.has_id("fix", LANGEVIN_ID):
            self.engine.command(f"unfix {LANGEVIN_ID}")
        t = lammps_float(self.temperature if temperature is None else temperature)
        self.engine.command(f"fix {LANGEVIN_ID} all langevin {t} {t} "
                            f"{lammps_float(self.settings.damping)} {int(seed)} zero yes")

    def start(self, rng: np.random.Generator, temperature: float | None = None) -> None:
        """Fresh Maxwell velocities and thermostat seed (at ``temperature``, default the MD's)."""
        self.draw_velocities(rng, temperature)
        self.set_thermostat(lammps_seed(rng), temperature)

    # -- running ------------------------------------------------------------------------------
    def run(self, n_steps: int, record: Sequence[str] = (U_THETA, U_UF),
            check: Callable[[LiquidMD], None] | None = None,
            progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Run ``n_steps`` (a multiple of ``stride``), recording variables every ``stride``.

        Returns:
            (n_records, 1 + len(record)): step, then the recorded values (empty without
            ``record``).
        """
        check_run_length(n_steps, self.settings.stride)
        values = " ".join(f"v_{name}" for name in (STEP, *record))

        def after(n: int, done: int) -> None:
            self.step += n
            if check is not None:
                check(self)
            if progress is not None:
                progress(n)

        return run_recorded(self.engine, RECORD_ID, n_steps, self.settings.stride,
                            self.settings.chunk, values if record else "", len(record) + 1,
                            lambda n: self.engine.command(f"run {n} post no"), after)

    def close(self) -> None:
        self.engine.close()
