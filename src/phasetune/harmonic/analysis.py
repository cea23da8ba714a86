"""Harmonic free energies of a crystal for a potential: the ``phasetune harmonic`` step.

F(T) per atom = E0 + F_H(T), with F_H = r k_B T ⟨ln(ħΩ_l/k_BT)⟩ over the 3N − 3 stable modes and
r set by the mode-count convention (:class:`~phasetune.conventions.Conventions`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from ..conventions import Conventions
from ..errors import PhasetuneError
from ..model import HarmonicReference
from ..model.harmonic import harmonic_free_energy, mode_frequencies
from ..potentials.linear import LinearPotential, PairPotential
from .reference import build_reference, describe


@dataclass
class HarmonicResult:
    """Classical harmonic free energy of one crystal.

    Attributes:
        structure: description (prototype, element, N, volume).
        n_atoms: N.
        volume: Å³/atom.
        temperatures: (n_T,) K.
        E0: static energy per atom of the relaxed lattice, eV/atom.
        F_harmonic: (n_T,) F_H per atom above E0, eV/atom.
        omega_bar: mean stable eigenvalue ω̄, eV/Å².
        mean_log_nu: ⟨ln ν⟩.
        mean_frequency_thz: mean Ω_l/2π, THz.
        conventions: the conventions dict (mode count etc.).
    """

    structure: str
    n_atoms: int
    volume: float
    temperatures: np.ndarray
    E0: float
    F_harmonic: np.ndarray
    omega_bar: float
    mean_log_nu: float
    mean_frequency_thz: float
    n_modes: int
    conventions: dict

    @property
    def F(self) -> np.ndarray:
        """E0 + F_H, eV/atom."""
        return self.E0 + self.F_harmonic

    def to_dict(self) -> dict:
        return {
            "structure": self.structure,
            "n_atoms": self.n_atoms,
            "volume_per_atom": self.volume,
            "E0": self.E0,
            "omega_bar": self.omega_bar,
            "mean_log_nu": self.mean_log_nu,
            "mean_frequency_THz": self.mean_frequency_thz,
            "n_modes": self.n_modes,
            "convention": self.conventions,
            "units": {"F_harmonic": "eV/atom", "E0": "eV/atom", "F": "eV/atom", "T": "K"},
            "temperatures": [
                {"T": float(t), "F_harmonic": float(f), "F": float(self.E0 + f)}
                for t, f in zip(self.temperatures, self.F_harmonic, strict=True)
            ],
        }


def harmonic_result(reference: HarmonicReference, temperatures: np.ndarray,
                    conventions: Conventions, structure: str) -> HarmonicResult:
    """Assemble a :class:`HarmonicResult` from a harmonic reference."""
    temperatures = np.atleast_1d(np.asarray(temperatures, dtype=float))
    r = reference.modes_per_atom(conventions)
    omega, mass = reference.omega, reference.mass
    return HarmonicResult(
        structure=structure,
        n_atoms=reference.n_atoms,
        volume=reference.volume,
        temperatures=temperatures,
        E0=reference.E0,
        F_harmonic=harmonic_free_energy(omega, mass, temperatures, r),
        omega_bar=reference.omega_bar,
        mean_log_nu=reference.mean_log_nu,
        mean_frequency_thz=float(np.mean(mode_frequencies(omega, mass)) / (2 * np.pi)),
        n_modes=reference.n_modes,
        conventions=conventions.as_dict(),
    )


def harmonic_analysis(atoms: Atoms, potential: PairPotential | LinearPotential,
                      temperatures: np.ndarray, conventions: Conventions | None = None,
                      step: float = 1e-3, use_cache: bool = True,
                      progress: Callable[[int], None] | None = None) -> HarmonicResult:
    """Relax ``atoms``, compute the Hessian of ``potential`` and its harmonic free energies.

    Args:
        atoms: crystal supercell.
        potential: any potential (the constant β0 of a SNAP potential is part of E0).
        temperatures: (n_T,) K, all > 0.
        conventions: mode counting (default r = 3).
        step: finite-difference step, Å.
        use_cache: reuse cached Hessians.
        progress: called with the number of displaced coordinates done (3N in all; all at once
            when the Hessian comes from the cache).
    """
    temperatures = np.atleast_1d(np.asarray(temperatures, dtype=float))
    if np.any(temperatures <= 0):
        raise PhasetuneError("temperatures must be positive (K)")
    conventions = conventions or Conventions()
    reference = build_reference(atoms, potential, step=step, use_cache=use_cache,
                                progress=progress)
    return harmonic_result(reference, temperatures, conventions, describe(atoms))
