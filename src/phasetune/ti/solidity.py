"""Which atoms are solid-like: a bond-orientational order parameter computed in numpy.

The criterion is the "connected bonds" test of ten Wolde, Ruiz-Montero and Frenkel
(J. Chem. Phys. 104, 9932 (1996)) with l = 6:

* every atom i gets the complex vector q_lm(i) = (1/N_b(i)) Σ_j Y_lm(r̂_ij), m = −l … l, over its
  N_b(i) neighbours closer than r_c, normalised to unit length q̂(i);
* a bond i–j is *solid-like* when Re Σ_m q̂_lm(i) q̂*_lm(j) > ``bond_threshold``: the two local
  environments have the same orientation, as in a crystal, and are uncorrelated in a liquid;
* an atom is *solid-like* when at least ``min_bonds`` of its bonds are solid-like.

Thermal crystals up to their melting point keep nearly every atom solid-like; in the liquid fewer
than a few percent of atoms pass.  r_c lies between the neighbour shells of the lattice (the
first two shells of bcc, the first of fcc and hcp), so it is given as a multiple of the nearest-
neighbour distance d_nn of the perfect crystal.  Positions are Å, cells (3, 3) Å (rows a, b, c).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list
from scipy.special import sph_harm_y

from ..errors import PhasetuneError

L_DEGREE = 6
"""Degree l of the spherical harmonics (q6 distinguishes bcc, fcc and hcp from a liquid)."""


@dataclass(frozen=True)
class SolidityCriterion:
    """Settings of the solid-like test.

    Attributes:
        cutoff_over_dnn: neighbour cutoff r_c / d_nn of the perfect crystal.
        bond_threshold: smallest normalised q6 product of a solid-like bond.
        min_bonds: smallest number of solid-like bonds of a solid-like atom.
    """

    cutoff_over_dnn: float
    bond_threshold: float = 0.5
    min_bonds: int = 7

    def to_dict(self) -> dict:
        return asdict(self)


CRITERIA: dict[str, SolidityCriterion] = {
    # bcc shells at 1, 2/√3 = 1.155 and √(8/3) = 1.633 d_nn: r_c between the 2nd and 3rd
    "bcc": SolidityCriterion(cutoff_over_dnn=1.39, min_bonds=8),
    # fcc and hcp shells at 1 and √2 d_nn: r_c between them
    "fcc": SolidityCriterion(cutoff_over_dnn=1.2, min_bonds=7),
    "hcp": SolidityCriterion(cutoff_over_dnn=1.2, min_bonds=7),
}
"""Criteria of the lattices whose neighbour shells are known."""


def criterion_for(structure: str) -> SolidityCriterion:
    """The criterion of a prototype (bcc, fcc, hcp), else a one-line error."""
    criterion = CRITERIA.get(str(structure).lower())
    if criterion is None:
        raise PhasetuneError(f"no solid-like criterion for structure {structure!r}",
                             f"use one of {', '.join(CRITERIA)}, or pass a SolidityCriterion")
    return criterion


def bond_order_vectors(positions: np.ndarray, cell: np.ndarray, cutoff: float,
                       l_degree: int = L_DEGREE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised local bond-orientational vectors q̂_lm(i) and the neighbour pairs.

    Args:
        positions: (N, 3) Å.
        cell: (3, 3) Å, periodic in all directions.
        cutoff: neighbour cutoff r_c, Å.
        l_degree: degree l.

    Returns:
        (q_hat, i, j): q_hat (N, 2l + 1) complex, zero for atoms without neighbours; i, j (n_pairs,)
        both directions of every pair closer than ``cutoff``.
    """
    positions = np.asarray(positions, dtype=float)
    n = len(positions)
    atoms = Atoms(numbers=np.ones(n, dtype=int), positions=positions, cell=cell, pbc=True)
    i, j, d = neighbor_list("ijD", atoms, cutoff)
    r = np.linalg.norm(d, axis=1)
    polar = np.arccos(np.clip(d[:, 2] / np.where(r > 0, r, 1.0), -1.0, 1.0))
    azimuth = np.arctan2(d[:, 1], d[:, 0])
    ms = np.arange(-l_degree, l_degree + 1)
    ylm = sph_harm_y(l_degree, ms[None, :], polar[:, None], azimuth[:, None])
    q = np.zeros((n, len(ms)), dtype=complex)
    np.add.at(q, i, ylm)
    norm = np.linalg.norm(q, axis=1)
    q_hat = np.divide(q, norm[:, None], out=np.zeros_like(q), where=norm[:, None] > 0)
    return q_hat, i, j


def solid_like(positions: np.ndarray, cell: np.ndarray, d_nn: float,
               criterion: SolidityCriterion) -> np.ndarray:
    """(N,) bool: which atoms are solid-like (module docstring).

    Args:
        positions: (N, 3) Å.
        cell: (3, 3) Å.
        d_nn: nearest-neighbour distance of the perfect crystal, Å.
        criterion: thresholds (e.g. :func:`criterion_for`).
    """
    q_hat, i, j = bond_order_vectors(positions, cell, criterion.cutoff_over_dnn * d_nn)
    products = np.real(np.sum(q_hat[i] * np.conj(q_hat[j]), axis=1))
    bonds = np.bincount(i[products > criterion.bond_threshold], minlength=len(q_hat))
    return bonds >= criterion.min_bonds


def solid_fraction(positions: np.ndarray, cell: np.ndarray, d_nn: float,
                   criterion: SolidityCriterion) -> float:
    """Fraction of solid-like atoms, in [0, 1]."""
    return float(np.mean(solid_like(positions, cell, d_nn, criterion)))


def solid_profile(positions: np.ndarray, cell: np.ndarray, solid: np.ndarray,
                  bins: int) -> np.ndarray:
    """(bins,) fraction of solid-like atoms in slabs along the third cell vector (c), from
    fractional coordinate 0 to 1; NaN for an empty slab."""
    frac = np.linalg.solve(np.asarray(cell, dtype=float).T, np.asarray(positions).T).T[:, 2] % 1.0
    index = np.minimum((frac * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins).astype(float)
    solid_counts = np.bincount(index[np.asarray(solid, bool)], minlength=bins)
    return np.divide(solid_counts, counts, out=np.full(bins, np.nan), where=counts > 0)
