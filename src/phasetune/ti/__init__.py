"""Thermodynamic integration (TI) in LAMMPS: the independent ground truth of D-DOS free energies.

* :func:`thermodynamic_integration` — F(T) per atom by λ-integration from the harmonic reference
  (route A) or Frenkel–Ladd switching from an Einstein crystal (route B), method.md §9;
* :func:`free_energy_curve` — F(T) from one anchor by Gibbs–Helmholtz integration of ⟨U⟩(T);
* :func:`theta_path` — F(θ_m) − F(θ0) between linear potentials by θ-integration (route C);
* :func:`npt_volume` — the mean volume per atom at (P, T) by constant-pressure MD;
* :func:`gibbs_free_energy` — G = F(⟨V⟩) + P⟨V⟩ per atom at pressure P (NPT mean cell, then TI);
* :func:`reversible_scaling` — G(T) at pressure P from T0 to T1 in one reversible-scaling sweep;
* :func:`coexistence_melting` — T_m(P) by solid–liquid coexistence (two-phase NPH runs);
* :class:`HarmonicReference` — the harmonic reference, also an exactly solvable target.

Modules: ``md`` (LAMMPS set-up), ``lambda_path``, ``frenkel_ladd``, ``theta_path``,
``temperature``, ``basin`` (melting guard), ``stats``, ``result`` (bookkeeping),
``checkpoint``, ``api``, ``barostat`` (constant-pressure MD), ``npt``, ``gibbs``, ``scaling``,
``solidity`` (solid-like atoms), ``coexistence_cell``, ``coexistence_md``, ``coexistence_result``,
``coexistence``.
"""

from __future__ import annotations

from ..model import HarmonicReference
from ..structures.crystals import reference_atoms as atoms_from_reference
from .api import free_energy_curve, harmonic_reference, thermodynamic_integration
from .barostat import NPTSettings
from .basin import CrystalLeftBasinError
from .coexistence import CoexistenceError, CoexistenceSettings, coexistence_melting
from .coexistence_result import CoexistenceResult
from .frenkel_ladd import FrenkelLaddSettings
from .gibbs import GibbsResult, gibbs_free_energy
from .lambda_path import LambdaSettings
from .md import MDSettings
from .npt import VolumeResult, npt_volume, nvt_pressure
from .result import CurveResult, TIResult, convention_variants
from .scaling import SweepResult, SweepSettings, reversible_scaling, scaling_free_energy
from .theta_path import ThetaPathResult, ThetaPathSettings, theta_path

__all__ = [
    "CoexistenceError", "CoexistenceResult", "CoexistenceSettings", "CrystalLeftBasinError",
    "CurveResult", "FrenkelLaddSettings", "GibbsResult", "HarmonicReference", "LambdaSettings",
    "MDSettings", "NPTSettings", "SweepResult", "SweepSettings", "TIResult", "ThetaPathResult",
    "ThetaPathSettings", "VolumeResult", "atoms_from_reference", "coexistence_melting",
    "convention_variants", "free_energy_curve", "gibbs_free_energy", "harmonic_reference",
    "npt_volume", "nvt_pressure", "reversible_scaling", "scaling_free_energy", "theta_path",
    "thermodynamic_integration",
]
