"""The joint correction beyond independent marginals (phasetune.estimator.joint) on a system
whose components are uncorrelated but dependent, so that the product of PCA marginals is wrong
and the exact tilted log-moment of every shell is known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.constants import KB
from phasetune.errors import EstimatorError
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.joint import tilted_moments
from phasetune.estimator.saddle import ShellTerms, assemble
from phasetune.model import PhaseVolume
from phasetune.testsystems import dependent_system, gaussian_system

TEMPS = np.array([400.0, 800.0, 1200.0])
THETA_REF = np.array([1.0, 1.0])
THETAS = np.array([THETA_REF, [1.02, 0.98], [0.97, 1.03], [1.05, 0.96]])


@pytest.fixture(scope="module")
def dependent():
    system, h_exact = dependent_system()
    return DDOSEstimator(system.phase_volume, system.conventions), h_exact


def saddle_of_exact_terms(est, h_exact, theta):
    """F_vib from the closed-form per-shell terms through the estimator's own α saddle."""
    beta = 1.0 / (KB * TEMPS)
    h, dh = h_exact(theta, beta)
    terms = ShellTerms(h[:, None], dh[:, None], None, np.zeros((TEMPS.size, 1, h.shape[1]),
                                                                 dtype=np.int64))
    return assemble(est.solver, terms, TEMPS, est.reference, est.conventions)["F_vib"][:, 0]


def test_tilted_moments_match_the_closed_form(dependent):
    est, h_exact = dependent
    beta = 1.0 / (KB * TEMPS)
    exact, _ = h_exact(THETA_REF, beta)
    for i, shell in enumerate(est.phase_volume.shells):
        h, mean, ess = tilted_moments(shell.raw, est.d0, THETA_REF, beta, est.reference.n_atoms)
        sigma = np.sqrt(1.0 / ess) / est.reference.n_atoms
        assert np.all(np.abs(h - exact[:, i]) < 5 * sigma + 1e-12)
        assert np.all(ess <= len(shell.raw)) and np.all(ess > 1)
        assert mean.shape == (TEMPS.size, 2)


@pytest.mark.parametrize("route", ["score", "cumulant"])
def test_correction_recovers_the_exact_inner_terms(dependent, route):
    est, h_exact = dependent
    exact = np.stack([saddle_of_exact_terms(est, h_exact, th) for th in THETAS], axis=1)
    est.set_joint_reference(None)
    product = est.predict(THETAS, TEMPS, route=route)
    est.set_joint_reference(THETA_REF)
    joint = est.predict(THETAS, TEMPS, route=route)
    assert joint.solved.all() and joint.info["joint_correction"]
    err = np.abs(joint.F_vib - exact)
    assert err.max() < 2e-5                         # 0.02 meV/atom, θ_ref and ±5 % around it
    if route == "score":
        # the product of marginals misses 0.2–0.6 meV/atom, outside its own error bar …
        miss = np.abs(product.F_vib - exact)
        assert miss.min() > 1.5e-4 and np.all(miss > 1.645 * product.sigma_F)
        # … the corrected estimate's bar covers what is left
        assert np.all(err <= 1.645 * joint.sigma_F + 2e-6)


def test_gradient_and_entropy_stay_exact_with_the_correction(dependent):
    est, _ = dependent
    est.set_joint_reference(THETA_REF)
    theta = THETAS[3]
    pred = est.predict(theta, TEMPS, gradient=True)
    step = np.array([1e-4, -7e-5])
    up, down = (est.predict(theta + s * step, TEMPS).F_total[:, 0] for s in (1, -1))
    assert np.allclose((up - down) / 2, pred.D_star[:, 0] @ step, rtol=1e-5, atol=1e-12)
    h = 1e-3 * TEMPS
    f_up = est.predict(theta, TEMPS + h).F_total[:, 0]
    f_down = est.predict(theta, TEMPS - h).F_total[:, 0]
    assert np.allclose(-(f_up - f_down) / (2 * h), pred.entropy[:, 0], rtol=1e-4)
    hess = est.predict(theta, TEMPS, hessian=True).hessian[:, 0]
    g_up = est.predict(theta + step, TEMPS, gradient=True).D_star[:, 0]
    g_down = est.predict(theta - step, TEMPS, gradient=True).D_star[:, 0]
    assert np.allclose((g_up - g_down) / 2, hess @ step, rtol=2e-3, atol=1e-12)


def test_gaussian_densities_need_no_correction():
    system = gaussian_system(store_raw=True)
    est = DDOSEstimator(system.phase_volume, system.conventions)
    thetas = system.theta_ref * np.array([[1.0], [1.03], [0.97]])
    plain = est.predict(thetas, TEMPS)
    est.set_joint_reference(system.theta_ref)
    joint = est.predict(thetas, TEMPS)
    exact = system.exact(thetas, TEMPS).F_vib
    assert np.all(np.abs(joint.F_vib - exact) <= 3 * joint.sigma_F + 1e-6)
    assert np.abs(joint.F_vib - plain.F_vib).max() < 3 * plain.sigma_F.max() + 1e-6


def test_switched_on_by_the_archive_and_refused_without_raw():
    system, _ = dependent_system(n_samples=800)
    pv = system.phase_volume
    recorded = PhaseVolume(pv.reference, pv.shells, pv.descriptors, pv.flavour,
                           {**pv.provenance, "reference_theta": [1.0, 1.0]})
    assert DDOSEstimator(recorded).joint_reference is not None
    assert DDOSEstimator(pv).joint_reference is None  # no θ_ref recorded: off
    bare = gaussian_system(n_samples=400)             # no raw descriptors
    est = DDOSEstimator(bare.phase_volume, bare.conventions)
    with pytest.raises(EstimatorError, match="raw descriptors"):
        est.set_joint_reference(bare.theta_ref)


def test_degree_indicator_varies_the_smoother_when_the_correction_is_on(dependent):
    est, _ = dependent
    est.set_joint_reference(None)
    plain = est.systematics(THETAS, TEMPS)
    assert plain["alternative_smoother_degree"] == est._settings["smoother_degree"]
    est.set_joint_reference(THETA_REF)
    joint = est.systematics(THETAS, TEMPS)
    assert joint["alternative_smoother_degree"] == max(2, est._settings["smoother_degree"] - 1)
    assert est.alternative().joint_reference is not None
    # at θ_ref the score degree alone would change nothing: the indicator is the smoothing's
    k_only = DDOSEstimator(est.phase_volume, est.conventions, joint["alternative_degree"])
    k_only.set_joint_reference(THETA_REF)
    same = np.abs(k_only.predict(THETA_REF, TEMPS).F_total - est.predict(THETA_REF, TEMPS).F_total)
    assert same.max() < 1e-9
    assert np.all(np.isfinite(joint["degree"])) and joint["degree"].max() > 0


def test_too_few_effective_samples_is_unsolved_with_its_reason(dependent, monkeypatch):
    from phasetune.estimator import ddos
    from phasetune.estimator.prediction import CLAMPED, LOW_SUPPORT

    est, _ = dependent
    est.set_joint_reference(THETA_REF)
    pred = est.predict(THETAS, TEMPS)
    ess = pred.info["saddle_ess"]
    assert pred.solved.all() and np.all((ess > ddos.ESS_MIN) & (ess <= 4000))
    monkeypatch.setattr(ddos, "ESS_MIN", 1e9)
    starved = est.predict(THETAS, TEMPS)
    assert not starved.solved.any()
    assert np.all(starved.status & LOW_SUPPORT) and not np.any(starved.status & CLAMPED)
    assert "effective samples" in starved.reasons(0, 0)[0]


def test_a_volume_without_shells_is_a_clear_error():
    """A campaign still running can leave a volume with no shells yet: one line, not a crash."""
    system = gaussian_system(n_samples=400)
    pv = system.phase_volume
    for shells in ([], pv.shells[:1]):
        bare = PhaseVolume(pv.reference, shells, pv.descriptors, pv.flavour, pv.provenance)
        with pytest.raises(EstimatorError, match="needs at least two"):
            DDOSEstimator(bare, system.conventions)
