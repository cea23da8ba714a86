"""Thermodynamic integration (TI) in LAMMPS: the independent ground truth of D-DOS free energies.

* :func:`thermodynamic_integration` — F(T) per atom by λ-integration from the harmonic reference
  (route A) or Frenkel–Ladd switching from an Einstein crystal (route B), method.md §9;
* :func:`free_energy_curve` — F(T) from one anchor by Gibbs–Helmholtz integration of ⟨U⟩(T);
* :func:`theta_path` — F(θ_m) − F(θ0) between linear potentials by θ-integration (route C);
* :func:`energy_path` — F(U_1) − F(U_0) between any two LAMMPS potentials (e.g. ML-IAP nn
  models) by integration along (1 − λ)U_0 + λU_1;
* :func:`npt_volume` — the mean volume per atom at (P, T) by constant-pressure MD;
* :func:`gibbs_free_energy` — G = F(⟨V⟩) + P⟨V⟩ per atom at pressure P (NPT mean cell, then TI);
* :func:`reversible_scaling` — G(T) at pressure P from T0 to T1 in one reversible-scaling sweep;
* :class:`HarmonicReference` — the harmonic reference, also an exactly solvable target;
* :func:`liquid_free_energy` — F per atom of a liquid at (N, V, T): λ-switch to an
  Uhlenbeck–Ford reference anchored on the ideal gas; :func:`is_liquid` / :func:`has_melted`
  tell liquids from crystals; :func:`liquid_volume_path` — F(V) − F(V₁) of a liquid from ⟨P⟩;
  :func:`liquid_reversible_scaling` — G(T) of a liquid at fixed P;
* :func:`coexistence_melting` — T_m(P) by solid–liquid coexistence (two-phase NPH runs).

Modules: ``md`` (LAMMPS set-up), ``lambda_path``, ``frenkel_ladd``, ``theta_path``,
``energy_path``,
``temperature``, ``basin`` (melting guard), ``stats``, ``result`` (bookkeeping),
``checkpoint``, ``api``, ``barostat`` (constant-pressure MD), ``npt``, ``gibbs``, ``scaling``;
liquids: ``uhlenbeck_ford`` (reference, B2, ideal gas), ``liquid_md``, ``liquid_checks``,
``liquid_path``, ``liquid_result``, ``liquid`` (API), ``liquid_volume``, ``liquid_scaling``;
melting: ``solidity`` (solid-like atoms), ``coexistence_cell``, ``coexistence_md``,
``coexistence_result``, ``coexistence``, ``coexistence_bracket``.
"""

from __future__ import annotations

from ..model import HarmonicReference
from ..structures.crystals import reference_atoms as atoms_from_reference
from .api import free_energy_curve, harmonic_reference, thermodynamic_integration
from .barostat import NPTSettings
from .basin import CrystalLeftBasinError
from .coexistence import CoexistenceError, CoexistenceSettings, coexistence_melting
from .coexistence_result import CoexistenceResult
from .energy_path import EnergyPathResult, EnergyPathSettings, energy_path
from .frenkel_ladd import FrenkelLaddSettings
from .gibbs import GibbsResult, gibbs_free_energy
from .lambda_path import LambdaSettings
from .liquid import liquid_free_energy
from .liquid_checks import (
    CrystalMeltedError,
    LiquidCrystallisedError,
    LiquidDiagnostics,
    has_melted,
    is_liquid,
)
from .liquid_md import LiquidMDSettings
from .liquid_path import LiquidSettings
from .liquid_result import LiquidPoint, LiquidResult
from .liquid_scaling import LiquidSweepResult, liquid_reversible_scaling
from .liquid_volume import LiquidVolumePath, liquid_volume_path
from .md import MDSettings
from .npt import VolumeResult, npt_volume, nvt_pressure
from .result import CurveResult, TIResult, convention_variants
from .scaling import SweepResult, SweepSettings, reversible_scaling, scaling_free_energy
from .theta_path import ThetaPathResult, ThetaPathSettings, theta_path
from .uhlenbeck_ford import UFSettings

__all__ = [
    "CoexistenceError", "CoexistenceResult", "CoexistenceSettings", "CrystalLeftBasinError",
    "CrystalMeltedError", "CurveResult", "EnergyPathResult", "EnergyPathSettings",
    "FrenkelLaddSettings", "GibbsResult",
    "HarmonicReference", "LambdaSettings", "LiquidCrystallisedError", "LiquidDiagnostics",
    "LiquidMDSettings", "LiquidPoint", "LiquidResult", "LiquidSettings", "LiquidSweepResult",
    "LiquidVolumePath", "MDSettings", "NPTSettings", "SweepResult", "SweepSettings", "TIResult",
    "ThetaPathResult", "ThetaPathSettings", "UFSettings", "VolumeResult", "atoms_from_reference",
    "coexistence_melting", "convention_variants", "energy_path", "free_energy_curve",
    "gibbs_free_energy",
    "harmonic_reference", "has_melted", "is_liquid", "liquid_free_energy",
    "liquid_reversible_scaling", "liquid_volume_path", "npt_volume", "nvt_pressure",
    "reversible_scaling", "scaling_free_energy", "thermodynamic_integration", "theta_path",
]
