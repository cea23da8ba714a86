"""Thermodynamic integration (TI) in LAMMPS: the independent ground truth of D-DOS free energies.

* :func:`thermodynamic_integration` — F(T) per atom by λ-integration from the harmonic reference
  (route A) or Frenkel–Ladd switching from an Einstein crystal (route B), method.md §9;
* :func:`free_energy_curve` — F(T) from one anchor by Gibbs–Helmholtz integration of ⟨U⟩(T);
* :func:`theta_path` — F(θ_m) − F(θ0) between linear potentials by θ-integration (route C);
* :class:`HarmonicReference` — the harmonic reference, also an exactly solvable target.

Modules: ``md`` (LAMMPS set-up), ``lambda_path``, ``frenkel_ladd``, ``theta_path``,
``temperature``, ``basin`` (melting guard), ``stats``, ``result`` (bookkeeping),
``checkpoint``, ``api``.
"""

from __future__ import annotations

from ..model import HarmonicReference
from ..structures.crystals import reference_atoms as atoms_from_reference
from .api import free_energy_curve, harmonic_reference, thermodynamic_integration
from .basin import CrystalLeftBasinError
from .frenkel_ladd import FrenkelLaddSettings
from .lambda_path import LambdaSettings
from .md import MDSettings
from .result import CurveResult, TIResult, convention_variants
from .theta_path import ThetaPathResult, ThetaPathSettings, theta_path

__all__ = [
    "CrystalLeftBasinError", "CurveResult", "FrenkelLaddSettings", "HarmonicReference",
    "LambdaSettings", "MDSettings", "TIResult", "ThetaPathResult", "ThetaPathSettings",
    "atoms_from_reference", "convention_variants", "free_energy_curve", "harmonic_reference",
    "theta_path", "thermodynamic_integration",
]
