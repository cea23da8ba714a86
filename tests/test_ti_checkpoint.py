"""Resumable repeats: an interrupted run resumes from its checkpoint without redoing repeats."""

from __future__ import annotations

import json

import numpy as np
import pytest

import phasetune.ti.api as api
from phasetune.errors import PhasetuneError
from phasetune.potentials.registry import load_potential
from phasetune.structures.crystals import crystal
from phasetune.ti import LambdaSettings, harmonic_reference, thermodynamic_integration

SETTINGS = LambdaSettings(n_nodes=2, equilibration=100, production=300, endpoint=False)


@pytest.fixture(scope="module")
def harmonic_system():
    pot = load_potential("lammps:Fe_mm.eam.fs", element="Fe")
    atoms = crystal("bcc", "Fe", volume=11.8, cells=2)
    ref = harmonic_reference(atoms, pot)
    return atoms, ref, ref.with_omega(ref.omega * 1.1)


def test_interrupted_run_resumes(harmonic_system, tmp_path, monkeypatch):
    atoms, ref, target = harmonic_system
    path = tmp_path / "ti.json"
    kwargs = dict(repeats=2, seed=3, progress=False, reference=ref, lambda_settings=SETTINGS)
    calls = []
    original = api.lambda_repeat

    def interrupted(*args, **kw):
        if len(calls) == 1:
            raise KeyboardInterrupt
        calls.append(1)
        return original(*args, **kw)

    monkeypatch.setattr(api, "lambda_repeat", interrupted)
    with pytest.raises(KeyboardInterrupt):
        thermodynamic_integration(atoms, target, [500.0], checkpoint=path, **kwargs)
    stored = json.loads(path.read_text())["records"]
    assert len(stored) == 1

    calls.clear()
    monkeypatch.setattr(api, "lambda_repeat", lambda *a, **k: calls.append(1) or original(*a, **k))
    resumed = thermodynamic_integration(atoms, target, [500.0], checkpoint=path, **kwargs)
    assert len(calls) == 1  # only the unfinished repeat ran
    first = resumed.points[0].repeats[0]
    assert first.F_com_fixed == next(iter(stored.values()))["F_com_fixed"]

    monkeypatch.setattr(api, "lambda_repeat", original)
    fresh = thermodynamic_integration(atoms, target, [500.0], **kwargs)  # no checkpoint
    np.testing.assert_allclose([r.F_com_fixed for r in resumed.points[0].repeats],
                               [r.F_com_fixed for r in fresh.points[0].repeats], rtol=0, atol=1e-12)


def test_checkpoint_of_another_run_is_refused(harmonic_system, tmp_path):
    atoms, ref, target = harmonic_system
    path = tmp_path / "ti.json"
    kwargs = dict(repeats=1, progress=False, reference=ref, lambda_settings=SETTINGS,
                  checkpoint=path)
    thermodynamic_integration(atoms, target, [500.0], seed=1, **kwargs)
    with pytest.raises(PhasetuneError, match="different run"):
        thermodynamic_integration(atoms, target, [500.0], seed=2, **kwargs)
