"""Tuning at pressure on analytic phases whose G(P, T) is exact: two points of one coexistence
line, and a transition together with an equilibrium volume."""

from __future__ import annotations

import numpy as np
import pytest
from test_diagram import THETA, phases

from phasetune.constants import GPA_TO_EV_PER_A3
from phasetune.phases.diagram import phase_diagram
from phasetune.tuning.optimizer import fine_tune
from phasetune.tuning.targets import ExpansionTarget, VolumeTarget, transition_target

GPA = GPA_TO_EV_PER_A3
TEMPS = np.linspace(100, 1500, 15)


def line(ph, theta, pressures):
    d = phase_diagram(ph, theta, TEMPS, pressures, isotherms=False)
    return [pts[0].temperature for pts in d.lines["open/dense"].isobars]


def test_two_points_of_a_line():
    ph = phases()
    tc0 = line(ph, THETA, [0.0, 2 * GPA])
    goal = [tc0[0] + 10.0, tc0[1] + 5.0]             # shifted up and steeper
    targets = [transition_target("open", "dense", goal[0], 1e-7, 0.0),
               transition_target("open", "dense", goal[1], 1e-7, 2 * GPA)]
    result = fine_tune(ph, THETA, targets, np.eye(3), max_iter=10)
    assert result.converged, result.message
    assert line(ph, result.theta, [0.0, 2 * GPA]) == pytest.approx(goal, abs=0.05)
    assert "2 GPa" in targets[1].describe()


def test_transition_and_volume_together():
    ph = phases()
    tc0 = line(ph, THETA, [0.0])[0]
    v0 = ph["open"].predict(THETA, [300.0], [0.0]).volume[0, 0, 0]
    targets = [transition_target("open", "dense", tc0 + 10.0, 1e-7, 0.0),
               VolumeTarget("open", 300.0, 0.0, v0 * 1.0005, 1e-6)]
    result = fine_tune(ph, THETA, targets, np.eye(3), max_iter=10)
    assert result.converged, result.message
    assert line(ph, result.theta, [0.0])[0] == pytest.approx(tc0 + 10.0, abs=0.05)
    v = ph["open"].predict(result.theta, [300.0], [0.0]).volume[0, 0, 0]
    assert v == pytest.approx(v0 * 1.0005, abs=2e-6)
    assert "V*(open" in targets[1].describe()


def test_thermal_expansion_target_and_its_gradient():
    ph = phases()
    target = ExpansionTarget("open", 300.0, 900.0, 0.0, 0.0)
    base = target.evaluate(ph, THETA)
    alpha0 = base.residual                        # value 0: the residual is ᾱ_V itself
    h = 1e-6
    for k in range(3):
        up, down = THETA.copy(), THETA.copy()
        up[k] += h
        down[k] -= h
        num = (target.evaluate(ph, up).residual - target.evaluate(ph, down).residual) / (2 * h)
        assert base.gradient[k] == pytest.approx(num, rel=1e-4, abs=1e-10)
    goal = ExpansionTarget("open", 300.0, 900.0, 0.0, 1.02 * alpha0, tolerance=1e-10)
    result = fine_tune(ph, THETA, [goal], np.eye(3), max_iter=10)
    assert result.converged, result.message
    assert goal.evaluate(ph, result.theta).residual == pytest.approx(0.0, abs=1e-10)


def test_expansion_spec_is_validated(tmp_path):
    from phasetune.errors import ConfigError
    from phasetune.tuning.spec import load_tune_spec

    cfg = tmp_path / "t.yaml"
    cfg.write_text("archives: [a.h5]\npotential: lammps:Mo_Chen_PRM2017\ntargets:\n"
                   "  - expansion: {phase: bcc, T: [900, 300], value: 3.0e-5}\n")
    with pytest.raises(ConfigError, match="T1 < T2"):
        load_tune_spec(cfg)
    cfg.write_text(cfg.read_text().replace("[900, 300]", "[300, 900]"))
    spec = load_tune_spec(cfg)
    assert spec.targets[0].pressure() == 0.0
