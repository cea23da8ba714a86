"""The harmonic reference of thermodynamic integration, U_H(X) = N·E0 + ½ δXᵀ H′ δX (method.md §9).

H′ = Σ_l ω_l v_l v_lᵀ is the stable part of a Hessian (the three translations removed), so U_H is
translation invariant and its COM-fixed partition function is exactly the product over the n stable
modes.  The same object serves as a *target* potential (an exactly harmonic crystal whose free
energy is known), evaluated through the ``fix external`` callback.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from ..archive.model import Reference
from ..constants import CU, KB
from ..errors import PhasetuneError
from ..harmonic.free_energy import harmonic_free_energy
from ..harmonic.modes import Modes


def minimum_image(delta: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Displacements (N, 3) Å reduced to the nearest periodic image of a cell (rows a, b, c)."""
    frac = np.linalg.solve(cell.T, np.asarray(delta, dtype=float).T).T
    return (frac - np.round(frac)) @ cell


@dataclass(frozen=True)
class HarmonicModel:
    """U_H(X) = N·E0 + ½ Σ_l ω_l (v_l·δX)², δX = X − X0 taken to the nearest image.

    Attributes:
        positions: X0, (N, 3) Å.
        cell: (3, 3) cell rows, Å.
        omega: (n,) stable eigenvalues ω_l > 0, eV/Å² (n = 3N − 3 for a periodic crystal).
        vectors: (3N, n) orthonormal eigenvectors (columns), orthogonal to uniform translations.
        e0: static energy per atom at X0, eV/atom.
        mass: atomic mass, amu.
        n_trans: number of primitive cells N_trans (for the COM term).
        name: display name.
    """

    positions: np.ndarray
    cell: np.ndarray
    omega: np.ndarray
    vectors: np.ndarray
    e0: float
    mass: float
    n_trans: int
    name: str = "harmonic reference"

    def __post_init__(self) -> None:
        n3 = self.positions.size
        if self.vectors.shape != (n3, len(self.omega)):
            raise PhasetuneError(f"harmonic model: eigenvectors have shape {self.vectors.shape}, "
                                 f"expected ({n3}, {len(self.omega)})")
        if np.any(self.omega <= 0):
            raise PhasetuneError("harmonic model: every ω_l must be positive (stable modes only)")
        com = self.vectors.reshape(-1, 3, len(self.omega)).sum(axis=0)
        if np.abs(com).max() > 1e-8:
            raise PhasetuneError("harmonic model: eigenvectors must not move the centre of mass",
                                 "pass the stable modes only (translations removed)")

    @classmethod
    def from_reference(cls, reference: Reference, modes: Modes | None = None,
                       e0: float | None = None, name: str | None = None) -> HarmonicModel:
        """The harmonic reference of a :class:`Reference` (eigenvectors from ``modes`` or stored).

        Args:
            e0: static energy per atom of the *target* potential at X0 (default E0_ref).
        """
        vectors = modes.vectors if modes is not None else reference.eigenvectors
        omega = modes.omega if modes is not None else reference.omega
        if vectors is None:
            raise PhasetuneError("the reference has no eigenvectors",
                                 "rebuild it with build_reference (eigenvectors are needed)")
        return cls(positions=np.asarray(reference.positions, dtype=float),
                   cell=np.asarray(reference.cell, dtype=float),
                   omega=np.asarray(omega, dtype=float), vectors=np.asarray(vectors, dtype=float),
                   e0=float(reference.E0_ref if e0 is None else e0), mass=float(reference.mass),
                   n_trans=int(reference.n_trans),
                   name=name or f"harmonic reference of {reference.phase}")

    # -- properties -----------------------------------------------------------------------------
    @property
    def n_atoms(self) -> int:
        return len(self.positions)

    @property
    def n_modes(self) -> int:
        return len(self.omega)

    @property
    def modes_per_atom(self) -> float:
        """r = n/N of the COM-fixed crystal (3 − 3/N for a periodic crystal)."""
        return self.n_modes / self.n_atoms

    @property
    def volume_box(self) -> float:
        """Cell volume V_box, Å³."""
        return float(abs(np.linalg.det(self.cell)))

    @property
    def sha256(self) -> str:
        digest = hashlib.sha256()
        stable_hessian = (self.vectors * self.omega) @ self.vectors.T  # H′, independent of the
        for arr in (self.positions, self.cell, stable_hessian):       # basis of degenerate modes
            digest.update(np.ascontiguousarray(np.round(arr, 8)).tobytes())
        digest.update(repr((round(self.e0, 10), self.mass, self.n_trans)).encode())
        return digest.hexdigest()

    def with_omega(self, omega: np.ndarray, name: str | None = None) -> HarmonicModel:
        """The same modes with other eigenvalues (n,) eV/Å² (an exactly solvable target)."""
        return replace(self, omega=np.asarray(omega, dtype=float), name=name or self.name)

    def rotated(self, rotation: np.ndarray) -> HarmonicModel:
        """The same model in a rotated Cartesian frame (x′ = x @ rotation), e.g. LAMMPS's."""
        n, k = self.n_atoms, self.n_modes
        vectors = np.einsum("iak,ab->ibk", self.vectors.reshape(n, 3, k), rotation)
        return replace(self, positions=self.positions @ rotation, cell=self.cell @ rotation,
                       vectors=vectors.reshape(3 * n, k))

    # -- energy ---------------------------------------------------------------------------------
    def displacement(self, positions: np.ndarray) -> np.ndarray:
        """δX (N, 3) Å from X0 to ``positions`` (N, 3), nearest image per atom."""
        return minimum_image(np.asarray(positions) - self.positions, self.cell)

    def energy_forces(self, positions: np.ndarray) -> tuple[float, np.ndarray]:
        """(U_H in eV, total; forces (N, 3) eV/Å) at ``positions`` (N, 3) Å."""
        q = self.vectors.T @ self.displacement(positions).ravel()
        energy = self.n_atoms * self.e0 + 0.5 * float(np.sum(self.omega * q * q))
        return energy, -(self.vectors @ (self.omega * q)).reshape(-1, 3)

    def free_energy(self, temperature: np.ndarray | float, r: float | None = None) -> np.ndarray:
        """Exact classical F per atom, eV/atom: E0 + (k_BT/N)Σ_l ln(ħΩ_l/k_BT) at r = n/N.

        Another ``r`` rescales the mode average (method.md §3), e.g. r = 3."""
        r = self.modes_per_atom if r is None else r
        return self.e0 + harmonic_free_energy(self.omega, self.mass, temperature, r)

    # -- sampling -------------------------------------------------------------------------------
    def sample_displacements(self, rng: np.random.Generator, temperature: float) -> np.ndarray:
        """An exact canonical draw δX (N, 3) Å: a_l ~ N(0, k_BT/ω_l), no COM displacement."""
        a = rng.standard_normal(self.n_modes) * np.sqrt(KB * temperature / self.omega)
        return (self.vectors @ a).reshape(-1, 3)

    def sample_velocities(self, rng: np.random.Generator, temperature: float) -> np.ndarray:
        """Maxwell–Boltzmann velocities (N, 3) Å/ps with zero total momentum (equal masses)."""
        v = rng.standard_normal((self.n_atoms, 3)) * np.sqrt(KB * temperature * CU / self.mass)
        return v - v.mean(axis=0)

    def einstein_constant(self) -> float:
        """Spring constant κ (eV/Å²) of an Einstein crystal with the same mean-square
        displacement: κ = n / Σ_l ω_l⁻¹ (the harmonic mean of ω)."""
        return float(self.n_modes / np.sum(1.0 / self.omega))

    def nearest_neighbour_distance(self) -> float:
        """Shortest interatomic distance of X0 over periodic images, Å."""
        from ase.geometry import get_distances

        _, d = get_distances(self.positions, cell=self.cell, pbc=True)
        d[np.diag_indices_from(d)] = np.inf
        return float(d.min())
