"""Crystal prototypes, volumes, translation counts and cell-size checks."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.errors import StructureError
from phasetune.structures.crystals import STRUCTURES, check_cell_size, crystal, element_mass


@pytest.mark.parametrize("structure,per_cell,per_prim",
                         [("bcc", 2, 1), ("fcc", 4, 1), ("hcp", 2, 2), ("a15", 8, 8),
                          ("diamond", 8, 2), ("sc", 1, 1)])
def test_prototypes(structure, per_cell, per_prim):
    atoms = crystal(structure, "Mo", volume=15.9, cells=(2, 2, 2))
    assert len(atoms) == 8 * per_cell
    assert atoms.get_volume() / len(atoms) == pytest.approx(15.9, rel=1e-12)
    assert atoms.info["n_trans"] == len(atoms) // per_prim
    d = atoms.get_all_distances(mic=True)[np.triu_indices(len(atoms), 1)]
    assert d.min() > 2.0  # no overlapping sites
    assert np.allclose(atoms.get_masses(), element_mass("Mo"))


def test_lattice_constant_and_volume_agree():
    a = crystal("bcc", "W", lattice_constant=3.2, cells=1)
    b = crystal("bcc", "W", volume=3.2**3 / 2, cells=1)
    assert np.allclose(a.cell, b.cell)


@pytest.mark.parametrize("kwargs,match", [
    ({"structure": "bct", "volume": 16}, "unknown structure"),
    ({"structure": "bcc", "volume": -1.0}, "positive"),
    ({"structure": "bcc", "volume": 0.0}, "positive"),
    ({"structure": "bcc"}, "exactly one"),
    ({"structure": "bcc", "volume": 16, "cells": (0, 1, 1)}, "supercell"),
])
def test_bad_structures(kwargs, match):
    structure = kwargs.pop("structure")
    with pytest.raises(StructureError, match=match):
        crystal(structure, "Mo", **kwargs)


def test_unknown_element():
    with pytest.raises(StructureError, match="unknown element"):
        crystal("bcc", "Xx", volume=16)


def test_cell_size_check_names_minimum_cells():
    with pytest.raises(StructureError, match="--cells 2 2 2"):
        check_cell_size(crystal("bcc", "Mo", volume=15.9, cells=1), 4.6)
    check_cell_size(crystal("bcc", "Mo", volume=15.9, cells=2), 4.6)
    assert set(STRUCTURES) >= {"bcc", "fcc", "hcp", "a15"}


@pytest.mark.parametrize("structure,cells,n_peaks,perfect", [
    ("bcc", 3, 6, 1.0), ("fcc", 2, 4, 1.0), ("a15", 2, 3, 0.25)])
def test_bragg_reference_of_bravais_and_a15(structure, cells, n_peaks, perfect):
    """The first Bragg shell of BCC ({110}), FCC ({111}) and A15 ({200}, where S(G)/N is 1/4 of
    a Bravais lattice's): the perfect crystal's relative order is 1, a liquid-like random
    configuration's is O(1/N)."""
    import numpy as np

    from phasetune.structures.order import bragg_order, bragg_reference

    atoms = crystal(structure, "Mo", volume=15.9, cells=cells)
    kvectors, own = bragg_reference(atoms.positions, np.array(atoms.cell))
    assert len(kvectors) == n_peaks and own == pytest.approx(perfect, rel=1e-9)
    rng = np.random.default_rng(0)
    random = rng.uniform(size=atoms.positions.shape) @ np.array(atoms.cell)
    assert bragg_order(random, kvectors) / own < 0.2
