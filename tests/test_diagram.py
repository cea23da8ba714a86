"""P–T diagrams (phasetune.phases.diagram) of two analytic phases with an exactly known
coexistence line: T_c(P), P_c(T), ΔV, ΔS, Clausius–Clapeyron, gradients, metastable lines."""

from __future__ import annotations

import numpy as np
import pytest
from analytic_phases import AnalyticVolumePhase

from phasetune.constants import GPA_TO_EV_PER_A3
from phasetune.errors import PhasetuneError
from phasetune.phases.diagram import phase_diagram
from phasetune.pressure.phase import PressurePhase

THETA = np.ones(3)
GPA = GPA_TO_EV_PER_A3


def open_phase():
    """Larger volume, lower static energy, less entropy (stable at low T and P)."""
    return AnalyticVolumePhase(a=[-52.3, 0, 0], b=[0, 23.15, 0], e=[0, 0, 2.0], w=[1, 2, 0.5])


def dense_phase():
    """0.03 eV/atom higher, 2.5 % denser, more entropy: stable at high T and high P."""
    return AnalyticVolumePhase(a=[-52.21, 0, 0], b=[0, 23.06, 0], e=[0, 0, 2.03],
                               w=[0.5, 1.5, 0.5], v_c=15.6)


def pressure_phase(name, analytic, volumes):
    return PressurePhase(name, [analytic.at_volume(v) for v in volumes])


def phases():
    return {"open": pressure_phase("open", open_phase(), np.linspace(15.0, 17.0, 7)),
            "dense": pressure_phase("dense", dense_phase(), np.linspace(14.6, 16.6, 7))}


def exact_gibbs(analytic, theta, t, p, lo, hi):
    v = np.linspace(lo, hi, 20001)
    return np.min(analytic.free_energy(theta, v, t) + p * v)


def exact_tc(p, theta=THETA):
    a, b = open_phase(), dense_phase()

    def dg(t):
        return exact_gibbs(b, theta, t, p, 14.6, 16.6) - exact_gibbs(a, theta, t, p, 15.0, 17.0)

    lo, hi = 50.0, 2000.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if dg(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def test_coexistence_line_matches_the_exact_one():
    pressures = np.array([0.0, 1.0, 2.0, 3.0]) * GPA
    diagram = phase_diagram(phases(), THETA, np.linspace(100, 1500, 15), pressures)
    line = diagram.lines["open/dense"]
    tcs = []
    for pk, pts in zip(pressures, line.isobars, strict=True):
        (pt,) = pts
        assert pt.kind == "root" and pt.solved and pt.low == "open" and pt.high == "dense"
        assert pt.temperature == pytest.approx(exact_tc(pk), abs=0.05)
        assert pt.delta_volume < 0 and pt.delta_entropy > 0
        assert pt.delta_enthalpy == pytest.approx(pt.temperature * pt.delta_entropy)
        tcs.append(pt.temperature)
    assert np.all(np.diff(tcs) < 0)             # the denser phase wins under pressure
    # Clausius–Clapeyron against the numerical slope of the line (central differences)
    pts = [q[0] for q in line.isobars]
    for k in (1, 2):
        assert pts[k].clapeyron == pytest.approx(line.slope[k], rel=0.02)
    # P_c(T) on the isotherms lies on the same line
    roots = [q for pts_t in line.isotherms for q in pts_t]
    assert roots, "no isotherm crosses the line"
    for q in roots:
        assert q.temperature == pytest.approx(exact_tc(q.pressure), abs=0.05)
        assert q.low == "open" and q.high == "dense"
    # the stable-phase map agrees with the line
    k_open, k_dense = diagram.phases.index("open"), diagram.phases.index("dense")
    assert diagram.stable[0, 0] == k_open and diagram.stable[0, -1] == k_dense


def test_tc_gradient_matches_finite_differences():
    pressures = np.array([0.5]) * GPA
    temps = np.linspace(100, 1500, 15)
    base = phase_diagram(phases(), THETA, temps, pressures, isotherms=False)
    pt = base.lines["open/dense"].isobars[0][0]
    h = 1e-4
    for k in range(3):
        up, down = THETA.copy(), THETA.copy()
        up[k] += h
        down[k] -= h
        t_up = phase_diagram(phases(), up, temps, pressures, isotherms=False)
        t_down = phase_diagram(phases(), down, temps, pressures, isotherms=False)
        num = (t_up.lines["open/dense"].isobars[0][0].temperature
               - t_down.lines["open/dense"].isobars[0][0].temperature) / (2 * h)
        assert pt.gradient[k] == pytest.approx(num, rel=1e-3, abs=1e-2)


def test_ensemble_and_third_phase():
    rng = np.random.default_rng(0)
    thetas = THETA + 5e-5 * rng.normal(size=(20, 3))
    ph = phases()
    # a third phase far above both never preempts the line
    ph["high"] = pressure_phase("high", AnalyticVolumePhase(
        a=[-51.3, 0, 0], b=[0, 23.15, 0], e=[0, 0, 2.0], w=[1, 2, 0.5]),
        np.linspace(15.0, 17.0, 7))
    diagram = phase_diagram(ph, THETA, np.linspace(100, 1500, 15), [0.0], thetas=thetas,
                            isotherms=False)
    line = diagram.lines["open/dense"]
    assert line.isobars[0][0].stable
    ens = line.ensemble[0]
    assert ens.solved.all()
    assert np.mean(ens.T_c) == pytest.approx(line.isobars[0][0].temperature, abs=20)
    # a third phase below both makes the open/dense line metastable
    ph["low"] = pressure_phase("low", AnalyticVolumePhase(
        a=[-53.3, 0, 0], b=[0, 23.15, 0], e=[0, 0, 2.0], w=[1, 2, 0.5]),
        np.linspace(15.0, 17.0, 7))
    diagram = phase_diagram(ph, THETA, np.linspace(100, 1500, 15), [0.0], isotherms=False)
    assert not diagram.lines["open/dense"].isobars[0][0].stable
    assert set(diagram.stable.ravel()) == {diagram.phases.index("low")}


def test_single_volume_phase_is_refused():
    with pytest.raises(PhasetuneError, match="single volume"):
        PressurePhase("bcc", [open_phase().at_volume(16.0)])
    with pytest.raises(PhasetuneError, match="at least two phases"):
        phase_diagram({"open": phases()["open"]}, THETA, [300.0], [0.0])
