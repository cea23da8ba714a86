"""Phase stability and T_c on analytic phases with exact answers (see analytic_phases.py)."""

from __future__ import annotations

import numpy as np
import pytest
from analytic_phases import AnalyticPhase
from analytic_phases import exact_tc as _exact_tc

from phasetune.errors import PhasetuneError
from phasetune.phases.ensembles import ensemble_transition, linearised_variance
from phasetune.phases.stability import compare_phases
from phasetune.phases.transitions import transitions

THETA = np.array([1.0, 0.5, 2.0])
A = AnalyticPhase(d0=[0.0, 0.0, 0.0], w=[1.0, 2.0, 0.5])
B = AnalyticPhase(d0=[0.01, 0.02, 0.0], w=[0.6, 1.0, 0.4])


def exact_tc(theta):
    return _exact_tc(A, B, theta)


def test_transition_temperature_and_gradient_are_exact():
    grid = np.linspace(100, 3000, 30)
    (tr,) = transitions(A, B, THETA, grid, ("a", "b"))
    assert tr.kind == "root" and tr.solved
    assert tr.T_c == pytest.approx(exact_tc(THETA), abs=1e-3)
    assert (tr.low, tr.high) == ("a", "b")  # B has the higher entropy
    h = 1e-6
    fd = np.array([(exact_tc(THETA + h * e) - exact_tc(THETA - h * e)) / (2 * h)
                   for e in np.eye(3)])
    assert np.allclose(tr.gradient, fd, rtol=1e-4)
    assert tr.sigma_Tc == pytest.approx(np.hypot(1e-4, 1e-4) / abs(tr.delta_entropy))


def test_transition_outside_solved_range_is_a_bound():
    tc = exact_tc(THETA)
    low_range = AnalyticPhase(A.d0, A.w, t_range=(100.0, tc * 0.8))
    low_b = AnalyticPhase(B.d0, B.w, t_range=(100.0, tc * 0.8))
    (tr,) = transitions(low_range, low_b, THETA, np.linspace(100, 3000, 30), ("a", "b"))
    assert tr.kind == "above" and np.isnan(tr.T_c)
    assert tr.bound <= tc * 0.8


def test_compare_phases_stable_phase_and_delta():
    grid = np.linspace(100, 3000, 30)
    comp = compare_phases({"a": A, "b": B}, THETA, grid)
    tc = exact_tc(THETA)
    expected = ["a" if t < tc else "b" for t in grid]
    assert comp.stable == expected
    d, sig, ok = comp.delta["b-a"]
    assert np.allclose(d, B.predict(THETA, grid).F_total[:, 0] - A.predict(THETA, grid)
                       .F_total[:, 0])
    assert ok.all() and np.allclose(sig, np.hypot(1e-4, 1e-4))
    payload = comp.to_dict()
    assert payload["transitions"]["a/b"][0]["kind"] == "root"


def test_ensemble_matches_single_model_roots():
    rng = np.random.default_rng(0)
    thetas = THETA * (1 + 0.02 * rng.normal(size=(500, 3)))
    ens = ensemble_transition(A, B, thetas, np.linspace(100, 3000, 60))
    exact = np.array([exact_tc(th) for th in thetas])
    assert ens.solved.all()
    assert np.abs(ens.T_c - exact).max() < 0.05  # Hermite cubic with exact slopes
    s = ens.summary()
    assert s["solved_fraction"] == 1.0 and s["std"] == pytest.approx(exact.std(ddof=1), rel=1e-3)
    # linearised spread ≈ sampled spread for a small ensemble covariance
    (tr,) = transitions(A, B, THETA, np.linspace(100, 3000, 30), ("a", "b"))
    cov = np.cov(thetas.T)
    assert np.sqrt(linearised_variance(tr.gradient, cov)) == pytest.approx(exact.std(), rel=0.1)


def test_incompatible_phases_refused():
    other = AnalyticPhase([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(PhasetuneError, match="incompatible archives"):
        compare_phases({"a": A, "b": other}, THETA, [500.0])
    with pytest.raises(PhasetuneError, match="two phases"):
        compare_phases({"a": A}, THETA, [500.0])
