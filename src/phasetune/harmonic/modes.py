"""Normal modes of a Hessian: translations removed, stability checked (method.md §4.1 steps 4–5).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import UnstableLatticeError

ZERO_TOL = 1e-6
"""Eigenvalues below ZERO_TOL·ω_max count as zero (translations) or unstable (anything else)."""


@dataclass
class Modes:
    """Stable normal modes: an intermediate of
    :func:`~phasetune.harmonic.reference.build_reference`, which stores them in the
    :class:`~phasetune.model.HarmonicReference`.

    Attributes:
        omega: (n,) eigenvalues ω_l > 0, eV/Å², ascending (n = 3N − 3 for a periodic crystal).
        vectors: (3N, n) orthonormal eigenvectors (columns).
        n_zero: number of translational zero modes removed (3).
        zero_eigenvalues: (3,) the removed eigenvalues, eV/Å² (≈ 0).
    """

    omega: np.ndarray
    vectors: np.ndarray
    n_zero: int
    zero_eigenvalues: np.ndarray


def translation_basis(n_atoms: int) -> np.ndarray:
    """(3N, 3) orthonormal uniform translations."""
    basis = np.zeros((3 * n_atoms, 3))
    for k in range(3):
        basis[k::3, k] = 1.0 / np.sqrt(n_atoms)
    return basis


def normal_modes(matrix: np.ndarray, where: str = "") -> Modes:
    """Diagonalise H, drop the three translations, refuse unstable lattices.

    The three modes with the largest projection onto uniform translations are removed; they must
    be numerically zero.  Any other eigenvalue below ZERO_TOL·ω_max raises
    :class:`UnstableLatticeError` naming ``where`` (phase and volume), the count and the most
    negative eigenvalue.
    """
    n3 = matrix.shape[0]
    values, vectors = np.linalg.eigh(matrix)
    w_max = float(np.max(np.abs(values)))
    overlap = np.sum((translation_basis(n3 // 3).T @ vectors) ** 2, axis=0)
    zero_idx = np.sort(np.argsort(overlap)[-3:])
    if np.any(np.abs(values[zero_idx]) > ZERO_TOL * w_max) or np.any(overlap[zero_idx] < 0.99):
        raise UnstableLatticeError(
            f"{where}: translational modes are not zero (eigenvalues "
            f"{values[zero_idx].round(8).tolist()} eV/Å²)",
            "the forces are not translation invariant; check the potential and the step",
        )
    keep = np.setdiff1d(np.arange(n3), zero_idx)
    bad = values[keep] < ZERO_TOL * w_max
    if np.any(bad):
        raise UnstableLatticeError(
            f"{where}: lattice is dynamically unstable: {int(bad.sum())} mode(s) with "
            f"non-positive curvature, most negative eigenvalue {values[keep].min():.6g} eV/Å²",
            "the structure is not a stable minimum of this potential at this volume; "
            "choose another volume, structure or reference potential",
        )
    return Modes(omega=values[keep], vectors=vectors[:, keep], n_zero=3,
                 zero_eigenvalues=values[zero_idx])
