"""Gauss–Newton fine-tuning on analytic phases with exact transition temperatures."""

from __future__ import annotations

import numpy as np
import pytest
from analytic_phases import AnalyticPhase, exact_tc

from phasetune.errors import PhasetuneError
from phasetune.tuning.optimizer import fine_tune
from phasetune.tuning.targets import DeltaFTarget, transition_target

THETA0 = np.array([1.0, 0.5, 2.0])
A = AnalyticPhase(d0=[0.0, 0.0, 0.0], w=[1.0, 2.0, 0.5])
B = AnalyticPhase(d0=[0.01, 0.02, 0.0], w=[0.6, 1.0, 0.4])
PHASES = {"a": A, "b": B}


def test_tune_transition_temperature_hits_target_with_minimal_change():
    tc0 = exact_tc(A, B, THETA0)
    target = 0.8 * tc0
    res = fine_tune(PHASES, THETA0, [transition_target("a", "b", target)], np.eye(3))
    assert res.converged, res.message
    assert exact_tc(A, B, res.theta) == pytest.approx(target, abs=0.05)
    assert len(res.steps) <= 8
    # with M = I and one target the change is (to first order) along ΔD*, the minimum norm
    g = res.steps[0].theta * 0 + (B.predict(res.theta, [target], gradient=True).D_star[0, 0]
                                  - A.predict(res.theta, [target], gradient=True).D_star[0, 0])
    d = res.theta - THETA0
    cos = d @ g / np.linalg.norm(d) / np.linalg.norm(g)
    assert abs(cos) > 0.99


def test_metric_and_constraint_are_respected():
    metric = np.diag([1.0, 100.0, 1.0])  # component 1 is expensive to move
    c = (B.d0 - A.d0)[None, :]  # keep ΔE0 = θ·Δd0 fixed
    res = fine_tune(PHASES, THETA0, [transition_target("a", "b", 0.8 * exact_tc(A, B, THETA0))],
                    metric, constraints=c)
    assert res.converged, res.message
    assert c @ res.theta == pytest.approx(c @ THETA0, abs=1e-12)
    free = fine_tune(PHASES, THETA0, [transition_target("a", "b", 0.8 * exact_tc(A, B, THETA0))],
                     metric)
    assert abs(free.theta[1] - THETA0[1]) < abs(free.theta[0] - THETA0[0])


def test_delta_f_target():
    t = DeltaFTarget("b", "a", 500.0, value=0.002)
    res = fine_tune(PHASES, THETA0, [t], np.eye(3))
    assert res.converged
    f = B.predict(res.theta, [500.0]).F_total - A.predict(res.theta, [500.0]).F_total
    assert f[0, 0] == pytest.approx(0.002, abs=1e-4)


def test_trust_region_and_unsolved_region_stop_clearly():
    far = transition_target("a", "b", 0.5 * exact_tc(A, B, THETA0))
    res = fine_tune(PHASES, THETA0, [far], np.eye(3), trust_radius=1e-3)
    assert not res.converged and "trust region" in res.message
    narrow = {"a": AnalyticPhase(A.d0, A.w, t_range=(100, 600)),
              "b": AnalyticPhase(B.d0, B.w, t_range=(100, 600))}
    with pytest.warns(UserWarning, match="left the sampled region"):
        res = fine_tune(narrow, THETA0, [transition_target("a", "b", 900.0)], np.eye(3))
    assert not res.converged
    with pytest.raises(PhasetuneError, match="not loaded"):
        fine_tune(PHASES, THETA0, [transition_target("a", "c", 900.0)], np.eye(3))
    with pytest.raises(PhasetuneError, match="positive definite"):
        fine_tune(PHASES, THETA0, [far], np.zeros((3, 3)))
