"""G(θ, P, T) from per-volume free energies (phasetune.pressure) on analytic phases whose F(V)
surface is known exactly: V*, G, S, H, B_T, α_V, C_P and ∂G/∂θ against brute force."""

from __future__ import annotations

import numpy as np
import pytest
from analytic_phases import AnalyticVolumePhase

from phasetune.constants import GPA_TO_EV_PER_A3, KB
from phasetune.errors import PhasetuneError
from phasetune.pressure.gibbs import ABOVE_RANGE, BELOW_RANGE, UNSTABLE, VOLUME_UNSOLVED, gibbs
from phasetune.pressure.phase import PressurePhase
from phasetune.pressure.surface import VolumeBasis

VOLUMES = np.linspace(15.0, 17.0, 7)
THETA = np.array([1.0, 1.0, 1.0])


def bcc_like(**kw) -> AnalyticVolumePhase:
    """B ≈ 260 GPa at V = 16 Å³/atom, thermal pressure ≈ 4 GPa at 1000 K."""
    return AnalyticVolumePhase(a=[-52.3, 0, 0], b=[0, 23.15, 0], e=[0, 0, 2.0],
                               w=[1.0, 2.0, 0.5], **kw)


def predict(phase, volumes, theta, temps, pressures_gpa, gradient=True):
    """Through PressurePhase.predict, so C_P comes from per-volume ∂s/∂T as in the CLI."""
    pp = PressurePhase("x", [phase.at_volume(v) for v in volumes])
    return pp.predict(theta, temps, np.asarray(pressures_gpa) * GPA_TO_EV_PER_A3,
                      gradient=gradient, heat_capacity=True)


def brute_force(phase, theta, t, p):
    """min_V F + PV on a fine grid, refined by a parabola: (G, V*)."""
    v = np.linspace(VOLUMES[0], VOLUMES[-1], 200001)
    g = phase.free_energy(theta, v, t) + p * v
    k = int(np.argmin(g))
    return g[k], v[k]


def test_surface_is_exact_for_a_cubic_in_strain():
    phase = bcc_like()
    basis = VolumeBasis.from_volumes(VOLUMES)
    assert basis.degree == 3 and basis.dof == 3
    f = np.array([phase.free_energy(THETA, v, 800.0) for v in VOLUMES])
    coef = basis.coefficients(f)
    v = np.array([15.3, 16.1, 16.9])
    assert np.allclose(basis.evaluate(coef, v), phase.free_energy(THETA, v, 800.0), atol=1e-10)
    h = 1e-4
    num = (phase.free_energy(THETA, v + h, 800.0) - phase.free_energy(THETA, v - h, 800.0)) / 2 / h
    assert np.allclose(basis.evaluate(coef, v, 1), num, rtol=1e-6)
    num2 = (phase.free_energy(THETA, v + h, 800.0) - 2 * phase.free_energy(THETA, v, 800.0)
            + phase.free_energy(THETA, v - h, 800.0)) / h**2
    assert np.allclose(basis.evaluate(coef, v, 2), num2, rtol=1e-4)


def test_equilibrium_volume_and_gibbs_energy_match_brute_force():
    phase = bcc_like()
    temps = np.array([300.0, 900.0, 1500.0])
    res = predict(phase, VOLUMES, THETA, temps, [-5.0, 0.0, 10.0])
    assert res.G.shape == (3, 3, 1) and res.solved.all()
    for i, p_gpa in enumerate([-5.0, 0.0, 10.0]):
        for j, t in enumerate(temps):
            g, v = brute_force(phase, THETA, t, p_gpa * GPA_TO_EV_PER_A3)
            assert res.volume[i, j, 0] == pytest.approx(v, abs=2e-5)
            assert res.G[i, j, 0] == pytest.approx(g, abs=1e-9)
    # compression and expansion go the right way
    assert np.all(np.diff(res.volume[:, 1, 0]) < 0)   # higher P → smaller V
    assert np.all(np.diff(res.volume[1, :, 0]) > 0)   # higher T → larger V
    assert np.all(res.expansion[res.solved] > 0)
    assert res.bulk_modulus[1, 0, 0] / GPA_TO_EV_PER_A3 == pytest.approx(260, rel=0.05)


def test_derived_quantities_against_finite_differences():
    phase = bcc_like()
    p = 2.0
    t0, dt = 1000.0, 0.5
    res = predict(phase, VOLUMES, THETA, [t0 - dt, t0, t0 + dt], [p])
    g = res.G[0, :, 0]
    s = res.entropy[0, 1, 0]
    assert s == pytest.approx(-(g[2] - g[0]) / (2 * dt), rel=1e-6)     # S = −∂G/∂T|_P
    assert res.enthalpy[0, 1, 0] == pytest.approx(g[1] + t0 * s, abs=1e-12)
    v = res.volume[0, :, 0]
    alpha = (v[2] - v[0]) / (2 * dt) / v[1]
    assert res.expansion[0, 1, 0] == pytest.approx(alpha, rel=1e-4)
    sp = res.entropy[0, :, 0]
    assert res.heat_capacity[0, 1, 0] == pytest.approx(t0 * (sp[2] - sp[0]) / (2 * dt),
                                                       rel=1e-3)
    # B_T = −V ∂P/∂V|_T from two pressures
    dp = 0.01
    two = predict(phase, VOLUMES, THETA, [t0], [p - dp, p + dp])
    vv = two.volume[:, 0, 0]
    bulk = -res.volume[0, 1, 0] * (2 * dp * GPA_TO_EV_PER_A3) / (vv[1] - vv[0])
    assert res.bulk_modulus[0, 1, 0] == pytest.approx(bulk, rel=1e-5)
    # ∂G/∂P = V
    g2 = two.G[:, 0, 0]
    assert (g2[1] - g2[0]) / (2 * dp * GPA_TO_EV_PER_A3) == pytest.approx(res.volume[0, 1, 0],
                                                                          rel=1e-6)


def test_gradient_in_theta_is_exact():
    phase = bcc_like()
    rng = np.random.default_rng(3)
    thetas = THETA + 0.002 * rng.normal(size=(4, 3))
    res = predict(phase, VOLUMES, thetas, [600.0, 1400.0], [0.0, 5.0])
    h = 1e-4  # G ≈ −50 eV: smaller steps lose digits to rounding
    for k in range(3):
        up, down = thetas.copy(), thetas.copy()
        up[:, k] += h
        down[:, k] -= h
        num = (predict(phase, VOLUMES, up, [600.0, 1400.0], [0.0, 5.0], False).G
               - predict(phase, VOLUMES, down, [600.0, 1400.0], [0.0, 5.0], False).G) / (2 * h)
        assert res.solved.all()
        assert np.allclose(res.D_star[..., k], num, rtol=1e-6, atol=1e-8)


def test_out_of_range_pressures_are_flagged_not_extrapolated():
    phase = bcc_like()
    res = predict(phase, VOLUMES, THETA, [300.0], [-80.0, 0.0, 80.0])
    assert res.status[0, 0, 0] & ABOVE_RANGE and res.status[2, 0, 0] & BELOW_RANGE
    assert res.solved[1, 0, 0] and not res.solved[0, 0, 0] and not res.solved[2, 0, 0]
    assert np.isnan(res.G[0, 0, 0]) and np.isnan(res.volume[2, 0, 0])
    assert "pressure above the sampled range" in res.reasons(2, 0, 0)[0]


def test_unsolved_volumes_are_left_out_or_flagged():
    phase = bcc_like()
    g_hot, v_hot = brute_force(phase, THETA, 1500.0, 0.0)
    ests = [phase.at_volume(v) for v in VOLUMES]
    ests[-1].t_range = (100.0, 1000.0)       # the largest volume is unsolved above 1000 K
    pp = PressurePhase("x", ests)
    res = pp.predict(THETA, [500.0, 1500.0], [0.0, -6 * GPA_TO_EV_PER_A3])
    assert res.volumes_used[:, 0].tolist() == [7, 6]
    assert res.solved[0, 1, 0]               # V* well inside the six solved volumes
    assert res.G[0, 1, 0] == pytest.approx(g_hot, abs=1e-9)
    assert res.volume[0, 1, 0] == pytest.approx(v_hot, abs=2e-5)
    # under tension V* moves beyond the solved volumes: flagged, never extrapolated
    assert res.solved[1, 0, 0] and res.status[1, 1, 0] & VOLUME_UNSOLVED
    assert np.isnan(res.G[1, 1, 0])
    assert "17 Å³/atom" in " ".join(res.reasons(1, 1, 0))
    # every volume unsolved
    cold = predict(bcc_like(t_range=(100.0, 1000.0)), VOLUMES, THETA, [2000.0], [0.0])
    assert cold.status[0, 0, 0] & VOLUME_UNSOLVED and np.isnan(cold.G[0, 0, 0])
    # a concave F(V): no minimum, negative bulk modulus
    soft = AnalyticVolumePhase(a=[52.3, 0, 0], b=[0, -23.15, 0], e=[0, 0, -2.0], w=[1, 1, 1])
    res = predict(soft, VOLUMES, THETA, [500.0], [0.0])
    assert res.status[0, 0, 0] & (UNSTABLE | BELOW_RANGE | ABOVE_RANGE)
    assert not res.solved.any()


def test_lack_of_fit_widens_sigma():
    """A surface that is not a cubic in strain, seen through 4 vs 7 volumes: the Birge ratio
    turns the misfit into error bar."""
    phase = bcc_like(sigma=1e-7)

    class Wiggly:
        def __init__(self, v):
            self.inner, self.v = phase.at_volume(v), v

        def predict(self, *a, **k):
            pred = self.inner.predict(*a, **k)
            pred.F_total = pred.F_total + 2e-4 * np.sin(7 * self.v)
            return pred

    res = gibbs(VOLUMES, [Wiggly(v).predict(THETA, [800.0]) for v in VOLUMES], [0.0])
    assert res.birge[0, 0] > 10
    clean = predict(phase, VOLUMES, THETA, [800.0], [0.0])
    assert clean.birge[0, 0] == pytest.approx(1.0)
    assert res.sigma_G[0, 0, 0] > 10 * clean.sigma_G[0, 0, 0]
    assert abs(res.G[0, 0, 0] - clean.G[0, 0, 0]) < 3 * res.sigma_G[0, 0, 0]


def test_bad_inputs():
    phase = bcc_like()
    one = [phase.at_volume(16.0).predict(THETA, [300.0])]
    with pytest.raises(PhasetuneError, match="at least two volumes"):
        gibbs([16.0], one, [0.0])
    two = [phase.at_volume(v).predict(THETA, [300.0]) for v in (16.0, 16.0)]
    with pytest.raises(PhasetuneError, match="distinct"):
        gibbs([16.0, 16.0], two, [0.0])
    with pytest.raises(PhasetuneError, match="degree"):
        VolumeBasis.from_volumes([15.0, 16.0, 17.0], degree=3)


def test_kb_consistency():
    """C_P of the analytic crystal at P where V* is fixed by symmetry is ≈ 3k_B (classical)."""
    phase = bcc_like(g=0.0)
    res = predict(phase, VOLUMES, THETA, [300.0, 1000.0, 2000.0], [0.0])
    assert np.allclose(res.heat_capacity, 3 * KB, rtol=1e-5)
    preds = [phase.at_volume(v).predict(THETA, [300.0, 1000.0]) for v in VOLUMES]
    assert np.isnan(gibbs(VOLUMES, preds, [0.0]).heat_capacity).all()   # no ∂s/∂T given


def test_volume_gradient_in_theta_is_exact():
    phase = bcc_like()
    theta = THETA + np.array([0.001, -0.002, 0.001])
    res = predict(phase, VOLUMES, theta, [900.0], [3.0])
    h = 1e-5
    for k in range(3):
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        num = (predict(phase, VOLUMES, up, [900.0], [3.0], False).volume
               - predict(phase, VOLUMES, down, [900.0], [3.0], False).volume) / (2 * h)
        assert res.volume_gradient[0, 0, 0, k] == pytest.approx(num[0, 0, 0], rel=1e-5)


def test_unknown_per_volume_sigma_gives_unknown_sigma():
    phase = bcc_like(sigma=float("nan"))       # e.g. the cumulant route: no error bar
    res = predict(phase, VOLUMES, THETA, [600.0], [0.0])
    assert res.solved.all() and np.isfinite(res.G).all()
    assert np.isnan(res.sigma_G).all() and np.isnan(res.sigma_volume).all()


def test_threaded_columns_give_the_same_arrays():
    """gibbs splits (T, model) columns over threads: identical to one thread, also where the
    solved volumes differ from column to column."""
    phase = bcc_like()
    ests = [phase.at_volume(v) for v in VOLUMES]
    ests[-1].t_range = (100.0, 1000.0)
    rng = np.random.default_rng(1)
    thetas = THETA * (1 + 0.01 * rng.standard_normal((3000, 3)))
    temps = np.linspace(300.0, 1500.0, 7)   # 12000 + 9000 columns: each split in two
    preds = [e.predict(thetas, temps, gradient=True) for e in ests]
    press = np.array([-6.0, 0.0, 5.0]) * GPA_TO_EV_PER_A3
    one, two = (gibbs(VOLUMES, preds, press, threads=n) for n in (1, 2))
    assert np.any(one.volumes_used == 6) and np.any(one.volumes_used == 7)
    for name in ("G", "sigma_G", "volume", "entropy", "expansion", "status", "D_star",
                 "volume_gradient", "birge"):
        assert np.array_equal(getattr(one, name), getattr(two, name), equal_nan=True), name
