"""Equilibrium volumes V*(P, T) of a crystal under a potential: static equation of state plus a
quasi-harmonic thermal pressure with one Grüneisen parameter.

* **Static part.**  The crystal is scaled isotropically (cell shape, c/a and fractional positions
  kept; internal positions are not relaxed: they are fixed by symmetry in bcc, fcc, hcp and a15)
  and its energy per atom is evaluated with LAMMPS; a third-order Birch–Murnaghan fit
  (:mod:`.eos`) gives V0(P), B0(P) at T = 0.
* **Thermal part.**  The classical vibrational free energy per atom is
  F_vib = r k_B T ⟨ln(ħΩ_l/k_BT)⟩ with Ω_l² = ω_l/m and r = 3, so ∂F_vib/∂V = (r k_B T/2) ∂⟨ln ω⟩/∂V
  where ⟨ln ω⟩ = ln ω̄ + ⟨ln ν⟩.  With γ = −½ ∂⟨ln ω⟩/∂ln V taken constant, the thermal pressure
  is r k_B T γ / V and V*(P, T) solves P_static(V) + r k_B T γ/V = P.  γ comes from the harmonic
  reference (Hessian) at two volumes 2 % either side of the centre (``thermal="hessian"``), or
  without any Hessian from the Slater estimate γ = B′/2 − 1/6 of the fit (``"slater"``), or is
  zero (``"none"``: V*(P, T) = V0(P)).

Surface units: Å³/atom, GPa, K; eV/Å³ inside.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3, KB
from ..engine.calculators import ForceEvaluator
from ..engine.session import Engine
from ..errors import PhasetuneError
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from .eos import BirchMurnaghan, fit_birch_murnaghan
from .reference import build_reference

THERMAL_MODES = ("hessian", "slater", "none")
MODES_PER_ATOM = 3.0
"""r of the thermal pressure r k_B T γ / V (3 modes per atom in the thermodynamic limit)."""
FIT_POINTS = 11
"""Energies per equation-of-state window."""
GRUNEISEN_STEP = 0.02
"""Relative volume step either side of the centre for the Hessian Grüneisen parameter."""
FIT_HALF_WIDTH = 0.06
"""The first fit window is V_min·(1 ± this); it widens to cover every V*(P, T)."""
MARGIN = 0.03
"""The fit window reaches this fraction beyond the outermost V0(P) and V*(P, T)."""
SETTLED = 0.005
"""The window is final once every V0, V* lies within it, up to this relative tolerance."""


@dataclass(frozen=True)
class EquilibriumVolumes:
    """V0(P), B0(P) of the static lattice and V*(P, T) with the quasi-harmonic thermal pressure.

    Attributes:
        pressures: (n_P,) GPa.
        temperatures: (n_T,) K (may be empty).
        v0: (n_P,) static equilibrium volume V0(P), Å³/atom.
        b0: (n_P,) static isothermal bulk modulus at V0(P), GPa.
        volumes: (n_P, n_T) V*(P, T), Å³/atom.
        gruneisen: the Grüneisen parameter γ used (0 with ``thermal="none"``).
        thermal: ``"hessian"``, ``"slater"`` or ``"none"``.
        eos: the static fit (per atom, eV and Å³).
        b0_prime: B′ = dB/dP at V0(0) (the P = 0 entry, whatever ``pressures`` holds).
        evaluations: static energies computed (LAMMPS single points).
    """

    pressures: np.ndarray
    temperatures: np.ndarray
    v0: np.ndarray
    b0: np.ndarray
    volumes: np.ndarray
    gruneisen: float
    thermal: str
    eos: BirchMurnaghan
    b0_prime: float
    evaluations: int = 0

    def summary(self) -> dict:
        """JSON-ready numbers (GPa, Å³/atom, meV/atom for the fit residual)."""
        return {"pressures_GPa": self.pressures.tolist(),
                "temperatures_K": self.temperatures.tolist(),
                "V0": np.round(self.v0, 6).tolist(), "B0_GPa": np.round(self.b0, 3).tolist(),
                "B0_prime": round(self.b0_prime, 4), "gruneisen": round(self.gruneisen, 4),
                "thermal": self.thermal, "V_star": np.round(self.volumes, 6).tolist(),
                "eos_range": list(self.eos.v_range),
                "eos_rms_meV": round(1e3 * self.eos.rms, 6)}


def scaled(atoms: Atoms, volume: float) -> Atoms:
    """``atoms`` scaled isotropically to ``volume`` Å³/atom (fractional positions kept)."""
    out = atoms.copy()
    factor = (volume * len(atoms) / atoms.get_volume()) ** (1.0 / 3.0)
    out.set_cell(np.array(atoms.cell) * factor, scale_atoms=True)
    out.info["volume"] = float(volume)
    return out


class StaticEnergy:
    """E(V) per atom of ``atoms`` scaled to V (one LAMMPS engine, a reload per volume)."""

    def __init__(self, atoms: Atoms, potential: PairPotential | LinearPotential, workdir: str,
                 engine: Engine | None = None):
        self.atoms = atoms
        self.pair = pair_form(potential, workdir)
        self.engine = engine or Engine(label="equation of state")
        self.evaluations = 0

    def __call__(self, volume: float) -> float:
        """E(V), eV/atom."""
        crystal = scaled(self.atoms, volume)
        energy, _ = ForceEvaluator(crystal, self.pair, engine=self.engine).energy_forces()
        self.evaluations += 1
        return float(energy) / len(crystal)

    def minimum(self, step: float = 0.04, max_steps: int = 15) -> float:
        """A rough volume of the energy minimum, Å³/atom: walk ln V in ``step``s from the
        volume of ``atoms`` until the lowest energy is bracketed."""
        v_start = self.atoms.get_volume() / len(self.atoms)
        logs = list(np.arange(-2, 3) * step)
        energies = [self(v_start * np.exp(s)) for s in logs]
        for _ in range(max_steps):
            k = int(np.argmin(energies))
            if 0 < k < len(logs) - 1:
                return float(v_start * np.exp(logs[k]))
            if k == 0:
                logs.insert(0, logs[0] - step)
                energies.insert(0, self(v_start * np.exp(logs[0])))
            else:
                logs.append(logs[-1] + step)
                energies.append(self(v_start * np.exp(logs[-1])))
        raise PhasetuneError(
            f"no minimum of the static energy within ×{np.exp(-logs[0]):.2f} of "
            f"{v_start:.4g} Å³/atom", "start from a volume closer to equilibrium")

    def fit(self, v_lo: float, v_hi: float, n: int = FIT_POINTS) -> BirchMurnaghan:
        volumes = np.linspace(v_lo, v_hi, n)
        return fit_birch_murnaghan(volumes, [self(v) for v in volumes])


def mean_log_omega(atoms: Atoms, potential: PairPotential | LinearPotential, volume: float,
                   engine: Engine, step: float) -> float:
    """⟨ln ω⟩ = ln ω̄ + ⟨ln ν⟩ of the harmonic reference at ``volume`` (ω in eV/Å²)."""
    ref = build_reference(scaled(atoms, volume), potential, step=step, engine=engine)
    return float(np.log(ref.omega_bar) + ref.mean_log_nu)


def hessian_gruneisen(atoms: Atoms, potential: PairPotential | LinearPotential, volume: float,
                      engine: Engine, step: float = 1e-3) -> float:
    """γ = −½ Δ⟨ln ω⟩/Δ ln V from two Hessians at volume·(1 ∓ GRUNEISEN_STEP)."""
    v_a, v_b = volume * (1 - GRUNEISEN_STEP), volume * (1 + GRUNEISEN_STEP)
    la = mean_log_omega(atoms, potential, v_a, engine, step)
    lb = mean_log_omega(atoms, potential, v_b, engine, step)
    return float(-0.5 * (lb - la) / np.log(v_b / v_a))


def equilibrium_volumes(potential: PairPotential | LinearPotential, atoms: Atoms,
                        pressures: Sequence[float] = (0.0,),
                        temperatures: Sequence[float] = (), *,
                        thermal: Literal["hessian", "slater", "none"] = "hessian",
                        engine: Engine | None = None, hessian_step: float = 1e-3) \
        -> EquilibriumVolumes:
    """V0(P), B0(P) and V*(P, T) of ``atoms`` under ``potential``.

    Args:
        potential: the potential (e.g. a campaign's reference).
        atoms: the crystal at any volume near equilibrium; it is scaled isotropically (shape,
            c/a, fractional positions and supercell kept).  With ``thermal="hessian"`` its
            supercell must be wider than the cutoff (the Hessian is taken on it).
        pressures: GPa.
        temperatures: K (classical statistics).
        thermal: how γ is obtained (module docstring).
        engine: a LAMMPS engine to reuse.
        hessian_step: finite-difference step of the Hessians, Å.

    Raises:
        PhasetuneError: no energy minimum, a pressure beyond the fitted branch, or an unstable
            lattice (``"hessian"``).
    """
    if thermal not in THERMAL_MODES:
        raise PhasetuneError(f"thermal must be one of {', '.join(THERMAL_MODES)}")
    p_gpa = np.atleast_1d(np.asarray(pressures, dtype=float))
    temps = np.atleast_1d(np.asarray(temperatures, dtype=float))
    if p_gpa.size == 0:
        raise PhasetuneError("give at least one pressure")
    if np.any(temps < 0):
        raise PhasetuneError("temperatures must be ≥ 0 K")
    p_ev = p_gpa * GPA_TO_EV_PER_A3
    engine = engine or Engine(label="equilibrium volumes")
    with tempfile.TemporaryDirectory() as workdir:
        energy = StaticEnergy(atoms, potential, workdir, engine)
        v_min = energy.minimum()
        window = (v_min * (1 - FIT_HALF_WIDTH), v_min * (1 + FIT_HALF_WIDTH))
        eos = energy.fit(*window)
        gamma = 0.0
        for _ in range(6):
            if thermal == "slater":
                gamma = float(eos.bulk_modulus_derivative(eos.v0)) / 2.0 - 1.0 / 6.0
            elif thermal == "hessian" and temps.size and gamma == 0.0:
                centre = float(eos.volume_at(float(np.mean(p_ev))))
                gamma = hessian_gruneisen(atoms, potential, centre, engine, hessian_step)
            v0 = np.array([eos.volume_at(p) for p in p_ev])
            table = np.array([[eos.volume_at(p, MODES_PER_ATOM * KB * t * gamma) for t in temps]
                              for p in p_ev]).reshape(p_gpa.size, temps.size)
            span = np.concatenate([v0, table.ravel()])
            need = (span.min() * (1 - MARGIN), span.max() * (1 + MARGIN))
            if need[0] >= window[0] * (1 - SETTLED) and need[1] <= window[1] * (1 + SETTLED):
                break
            window = need  # fitted where it is used: BM3 is only locally exact
            eos = energy.fit(*window)
        else:
            raise PhasetuneError("the equation-of-state window did not settle around the "
                                 "requested pressures", "ask for a smaller pressure range")
    return EquilibriumVolumes(
        pressures=p_gpa, temperatures=temps, v0=v0,
        b0=np.array([float(eos.bulk_modulus(v)) for v in v0]) / GPA_TO_EV_PER_A3,
        volumes=table, gruneisen=gamma, thermal=thermal, eos=eos,
        b0_prime=float(eos.bulk_modulus_derivative(eos.v0)),
        evaluations=energy.evaluations)
