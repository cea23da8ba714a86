"""Melting T_m(θ, P) (phases/melting.py) on analytic phases with closed-form F(θ, V, T): the
root, its gradient, ΔH, ΔV and the Clausius–Clapeyron slope against brute force, the free-COM
terms, the vectorised ensemble, and the explicit flags when the curves do not cross."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from analytic_phases import AnalyticVolumePhase
from scipy.optimize import minimize_scalar

from phasetune.constants import GPA_TO_EV_PER_A3, KB
from phasetune.errors import PhasetuneError
from phasetune.model.harmonic import com_translation_free_energy
from phasetune.phases.melting import melting_point, melting_temperatures
from phasetune.pressure.phase import PressurePhase

VOLUMES = np.linspace(15.0, 17.5, 7)
THETA = np.array([1.0, 1.0, 1.0])
TEMPS = np.linspace(2000.0, 4500.0, 26)
N_SOLID, N_LIQUID, MASS = 54, 128, 95.95


def solid_phase() -> AnalyticVolumePhase:
    return AnalyticVolumePhase(a=[-52.3, 0, 0], b=[0, 23.15, 0], e=[0, 0, 2.0],
                               w=[1.0, 2.0, 0.5], t_range=(100.0, 5000.0))


def liquid_phase(scale: float = 0.99) -> AnalyticVolumePhase:
    return AnalyticVolumePhase(a=[-52.3 * scale, 0, 0], b=[0, 23.15, 0], e=[0, 0, 2.0],
                               w=[0.2, 0.4, 0.1], g=7.5, t_range=(100.0, 5000.0))


def pressure_phase(name: str, phase: AnalyticVolumePhase, liquid: bool) -> PressurePhase:
    ests = []
    for v in VOLUMES:
        est = phase.at_volume(v)
        n = N_LIQUID if liquid else N_SOLID
        est.reference = SimpleNamespace(volume=float(v), n_atoms=n, mass=MASS,
                                        n_trans=n if liquid else n)
        est.phase_volume.liquid = liquid
        ests.append(est)
    return PressurePhase(name, ests)


def limit_gibbs(phase: AnalyticVolumePhase, theta, t: float, p: float, n: int | None) -> float:
    """min_V[F + PV] (bounded scalar minimisation); a liquid (``n`` atoms) gets its
    thermodynamic-limit terms at V*: + f_trans(V_box, N) − (k_BT/2N) ln(2πN)."""
    res = minimize_scalar(lambda v: float(phase.free_energy(theta, v, t) + p * v),
                          bounds=(VOLUMES[0], VOLUMES[-1]), method="bounded",
                          options={"xatol": 1e-10})
    if n is None:  # the analytic crystal is in the 3N convention already
        return float(res.fun)
    return float(res.fun + com_translation_free_energy(t, n, MASS, res.x * n, n)
                 - KB * t / (2 * n) * np.log(2 * np.pi * n))


def brute_tm(theta, p_gpa: float, scale: float = 0.99) -> float:
    p = p_gpa * GPA_TO_EV_PER_A3
    sol, liq = solid_phase(), liquid_phase(scale)

    def delta(t):
        return limit_gibbs(liq, theta, t, p, N_LIQUID) - limit_gibbs(sol, theta, t, p, None)
    lo, hi = TEMPS[0], TEMPS[-1]
    assert delta(lo) > 0 > delta(hi)
    for _ in range(45):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if delta(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.fixture(scope="module")
def phases():
    return (pressure_phase("bcc", solid_phase(), False),
            pressure_phase("liquid", liquid_phase(), True))


def test_melting_point_matches_brute_force_with_gradient_and_clapeyron(phases):
    solid, liquid = phases
    m = melting_point(solid, liquid, THETA, 0.0, TEMPS)
    assert m.kind == "root" and m.solved
    assert m.T_m == pytest.approx(brute_tm(THETA, 0.0), abs=0.5)
    assert m.delta_S > 0 and m.delta_H == pytest.approx(m.T_m * m.delta_S)
    assert m.V_liquid > m.V_solid and m.delta_V == pytest.approx(m.V_liquid - m.V_solid)
    # ∂T_m/∂θ against central differences of the brute-force root
    h = 1e-4
    for k in range(3):
        e = np.zeros(3)
        e[k] = h
        num = (brute_tm(THETA + e, 0.0) - brute_tm(THETA - e, 0.0)) / (2 * h)
        assert m.gradient[k] == pytest.approx(num, rel=0.02, abs=2.0)
    # Clausius–Clapeyron against T_m(P) itself
    up = melting_point(solid, liquid, THETA, 1.0, TEMPS)
    down = melting_point(solid, liquid, THETA, -1.0, TEMPS)
    assert m.slope == pytest.approx((up.T_m - down.T_m) / 2.0, rel=0.03)
    assert "T_m =" in m.message() and m.to_dict()["units"]["slope"] == "K/GPa"


def test_thermodynamic_limit_terms_matter(phases):
    """Without the liquid's limit terms (f_trans, Stirling) the curves would cross elsewhere."""
    solid, liquid = phases
    m = melting_point(solid, liquid, THETA, 0.0, TEMPS)
    sol, liq = solid.isobar(0.0), liquid.isobar(0.0)
    pa, pb = sol.predict(THETA, TEMPS), liq.predict(THETA, TEMPS)
    d = (pb.F_total - pa.F_total)[:, 0]
    i = int(np.flatnonzero(np.sign(d[:-1]) != np.sign(d[1:]))[0])
    t_bare = TEMPS[i] + d[i] / (d[i] - d[i + 1]) * (TEMPS[i + 1] - TEMPS[i])
    assert abs(t_bare - m.T_m) > 20.0


def test_vectorised_melting_temperatures_match_single_model(phases):
    solid, liquid = phases
    rng = np.random.default_rng(1)
    thetas = THETA + 1e-3 * rng.standard_normal((20, 3))
    ens = melting_temperatures(solid, liquid, thetas, 0.0, TEMPS)
    assert ens.solved.all()
    for k in (0, 7, 19):
        assert ens.T_c[k] == pytest.approx(
            melting_point(solid, liquid, thetas[k], 0.0, TEMPS).T_m, abs=0.05)


def test_no_crossing_is_flagged_with_the_compared_range(phases):
    solid, _ = phases
    stiff = pressure_phase("liquid", liquid_phase(scale=0.985), True)  # melts above 4500 K
    m = melting_point(solid, stiff, THETA, 0.0, TEMPS)
    assert m.kind == "above" and np.isnan(m.T_m)
    assert m.compared[0] == 2000.0 and f"T_m is above {m.compared[1]:g} K" in m.message()
    with pytest.raises(PhasetuneError, match="not a liquid"):
        melting_point(stiff, solid, THETA, 0.0, TEMPS)


def test_tuning_to_a_melting_temperature(phases, tmp_path):
    """A melting target (tune.yaml 'melting:') moves T_m to the goal (thermodynamic-limit G)."""
    from phasetune.tuning.optimizer import fine_tune
    from phasetune.tuning.spec import load_tune_spec
    from phasetune.tuning.targets import transition_target

    solid, liquid = phases
    loaded = {"bcc": solid.thermodynamic_limit(), "liquid": liquid.thermodynamic_limit()}
    t0 = melting_point(solid, liquid, THETA, 0.0, TEMPS).T_m
    goal = t0 - 40.0
    target = transition_target("bcc", "liquid", goal, 1e-7, 0.0)
    result = fine_tune(loaded, THETA, [target], np.eye(3), max_iter=10)
    assert result.converged, result.message
    assert melting_point(solid, liquid, result.theta, 0.0, TEMPS).T_m == pytest.approx(goal,
                                                                                       abs=0.05)
    # the YAML form
    path = tmp_path / "tune.yaml"
    path.write_text("archives: [a.h5]\npotential: lammps:X\nmodes: 3N-3\n"
                    "targets:\n  - melting: {solid: bcc, T: 2896}\n")
    spec = load_tune_spec(path)
    assert spec.targets[0].melting.liquid == "liquid" and spec.targets[0].pressure() == 0.0
    from phasetune.tuning.run import build_targets

    built = build_targets(spec, loaded, None)
    assert built[0].describe() == "T_c(bcc→liquid) = 2896 K, 0 GPa"
    with pytest.raises(PhasetuneError, match="not a liquid"):
        build_targets(spec, {"bcc": solid, "liquid": solid}, None)
