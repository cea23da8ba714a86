"""The liquid route of the estimator (method.md §4.6): kinetic shells whose measure is anchored
on one free energy of the reference instead of the harmonic limit.  Tested on the exactly
solvable kinetic shells of a harmonic crystal, presented as a "liquid" anchored at one T."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from phasetune.conventions import Conventions
from phasetune.errors import EstimatorError
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.kinetic import TIAnchor
from phasetune.testsystems import kinetic_harmonic_system

TEMPS = np.array([400.0, 700.0, 1000.0, 1400.0])
THETAS = np.array([[0.9, 1.0], [1.0, 1.0], [1.15, 1.0]])
T_ANCHOR = 900.0


@pytest.fixture(scope="module")
def system():
    return kinetic_harmonic_system(n_atoms=64, n_samples=60_000, seed=5)


def as_liquid(pv, anchor: TIAnchor | None = None):
    prov = dict(pv.provenance, phase={"name": "liquid", "liquid": {"melt_temperature": 1.0}})
    if anchor is not None:
        prov["ti_anchor"] = anchor.to_dict()
    return replace(pv, provenance=prov)


def exact_total(system, theta, temps):
    ref = system.phase_volume.reference
    return ref.E0 + system.exact(theta, temps).F_vib


def test_anchored_liquid_reproduces_the_exact_free_energy_and_gradient(system):
    f_a = float(exact_total(system, [1.0, 1.0], [T_ANCHOR])[0, 0])
    anchor = TIAnchor(T_ANCHOR, f_a, 2e-4, "exact")
    est = DDOSEstimator(as_liquid(system.phase_volume, anchor), system.conventions)
    assert est.kinetic.model == "log" and est.kinetic.ti_alpha is not None
    p = est.predict(THETAS, TEMPS, gradient=True)
    exact = system.exact(THETAS, TEMPS)
    err = p.F_vib - exact.F_vib
    assert p.solved.all()
    assert np.abs(err).max() < 1e-3  # eV/atom
    assert np.all(np.abs(err) <= 3.0 * p.sigma_F + 1e-6)
    # the anchor's own σ is in every error bar
    assert np.all(p.sigma_F >= 2e-4 * TEMPS[:, None] / T_ANCHOR * 0.999)
    assert np.allclose(p.D_star, exact.D_star, rtol=5e-3)
    # at the anchor itself, θ0 returns the anchor
    p0 = est.predict(np.array([[1.0, 1.0]]), [T_ANCHOR])
    assert p0.F_total[0, 0] == pytest.approx(f_a, abs=2e-5)


def test_anchor_shift_moves_free_energy_by_t_over_ta(system):
    """Shifting the anchor F by δ changes s_ref by a constant −δ/(k_BT_a): F(T) moves by δT/T_a."""
    f_a = float(exact_total(system, [1.0, 1.0], [T_ANCHOR])[0, 0])
    base = DDOSEstimator(as_liquid(system.phase_volume, TIAnchor(T_ANCHOR, f_a, 0.0)),
                         system.conventions)
    moved = DDOSEstimator(as_liquid(system.phase_volume,
                                    TIAnchor(T_ANCHOR, f_a + 0.01, 0.0)),
                          system.conventions)
    d = moved.predict(THETAS, TEMPS).F_total - base.predict(THETAS, TEMPS).F_total
    assert np.allclose(d, 0.01 * TEMPS[:, None] / T_ANCHOR, atol=1e-6)


def test_liquid_without_anchor_or_outside_range_or_other_convention_is_refused(system):
    with pytest.raises(EstimatorError, match="has no free-energy anchor"):
        DDOSEstimator(as_liquid(system.phase_volume), system.conventions)
    far = TIAnchor(20_000.0, 0.0, 0.0)
    with pytest.raises(EstimatorError, match="TI anchor's temperature 20000 K is outside"):
        DDOSEstimator(as_liquid(system.phase_volume, far), system.conventions)
    ok = TIAnchor(T_ANCHOR, 0.0, 0.0)
    with pytest.raises(EstimatorError, match="COM-fixed convention"):
        DDOSEstimator(as_liquid(system.phase_volume, ok), Conventions(modes="3N"))


def test_a_ti_anchor_on_crystal_kinetic_shells(system):
    """A crystal's kinetic shells anchored at T_a instead of the harmonic limit: the same answer
    within σ, and a smaller σ near T_a (no integration from ε → 0)."""
    f_a = float(exact_total(system, [1.0, 1.0], [T_ANCHOR])[0, 0])
    plain = DDOSEstimator(system.phase_volume, system.conventions)
    pv = replace(system.phase_volume, provenance=dict(
        system.phase_volume.provenance, ti_anchor=TIAnchor(T_ANCHOR, f_a, 1e-5).to_dict()))
    anchored = DDOSEstimator(pv, system.conventions)
    assert anchored.kinetic.model == "power" and anchored.kinetic.ti_alpha is not None
    exact = system.exact(THETAS, TEMPS).F_vib
    for est in (plain, anchored):
        p = est.predict(THETAS, TEMPS)
        assert np.all(np.abs(p.F_vib - exact) <= 3.0 * p.sigma_F + 1e-6)
    near = np.array([T_ANCHOR * 1.05])
    assert anchored.predict(THETAS[1], near).sigma_F[0, 0] < plain.predict(THETAS[1],
                                                                           near).sigma_F[0, 0]


def test_anchor_cli_records_ti_beside_the_archive_and_predictions_use_it(system, tmp_path):
    """phasetune anchor: a liquid TI JSON → <archive>.anchors.json → estimators built from the
    archive are anchored; wrong volume, wrong potential or crystal TI are refused."""
    import json

    from click.testing import CliRunner

    from phasetune.archive.hdf5 import write_archive
    from phasetune.cli.main import cli
    from phasetune.estimator.anchors import read_anchors
    from phasetune.estimator.store import load_volume_estimators

    sha = "ab" * 32
    pv = as_liquid(system.phase_volume)
    path = tmp_path / "liq.h5"
    write_archive(path, [pv], {"conventions": {"modes": "3N-3"},
                               "sampler": {"flavour": "kinetic"},
                               "reference_potential": {"name": "harmonic", "sha256": sha}})
    ref = pv.reference
    f_a = float(exact_total(system, [1.0, 1.0], [T_ANCHOR])[0, 0])
    ti = {"phase": "liquid", "n_atoms": ref.n_atoms, "volume_box": ref.volume * ref.n_atoms,
          "potential": {"name": "harmonic", "sha256": sha},
          "temperatures": [{"T": T_ANCHOR, "F_3N-3": f_a, "sigma": 1e-4}]}
    good = tmp_path / "ti.json"
    good.write_text(json.dumps(ti))
    with pytest.raises(EstimatorError, match="has no free-energy anchor"):
        load_volume_estimators(path, conventions=system.conventions)
    run = CliRunner().invoke(cli, ["anchor", str(path), str(good), "--json"])
    assert run.exit_code == 0, run.output
    assert json.loads(run.output)["anchors"][0]["T"] == T_ANCHOR
    assert read_anchors(path)[ref.phase]
    est = load_volume_estimators(path, conventions=system.conventions)[ref.phase][0]
    p = est.predict(THETAS, TEMPS)
    assert np.all(np.abs(p.F_vib - system.exact(THETAS, TEMPS).F_vib) <= 3 * p.sigma_F + 1e-6)
    for change, message in (({"volume_box": 2 * ref.volume * ref.n_atoms}, "matches no volume"),
                            ({"potential": {"sha256": "cd" * 32}}, "is not the archive's"),
                            ({"phase": None}, "crystal TI cannot anchor")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({**ti, **change}))
        run = CliRunner().invoke(cli, ["anchor", str(path), str(bad)])
        assert run.exit_code != 0 and message in run.output, run.output
