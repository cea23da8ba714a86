"""The D-DOS estimator (method.md §2.4, §7) on the analytic test systems of §10."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from phasetune.constants import KB
from phasetune.conventions import Conventions
from phasetune.errors import EstimatorError
from phasetune.estimator.ddos import DDOSEstimator
from phasetune.estimator.prediction import ALPHA_HIGH, ALPHA_LOW, CLAMPED
from phasetune.estimator.smoother import AlphaSmoother
from phasetune.model.harmonic import harmonic_free_energy
from phasetune.scoring.score_matching import fit_phase_volume
from phasetune.testsystems import gaussian_system, grouped_harmonic_system

TEMPS = np.array([400.0, 700.0, 1000.0])


@pytest.fixture(scope="module")
def gauss():
    ts = gaussian_system(seed=1)
    return ts, DDOSEstimator(ts.phase_volume, ts.conventions)


@pytest.fixture(scope="module")
def crystal():
    ts = grouped_harmonic_system(seed=1, n_samples=3000)
    return ts, DDOSEstimator(ts.phase_volume, ts.conventions)


def test_smoother_is_exact_for_its_basis_and_well_conditioned():
    alphas = np.linspace(-5.0, -2.5, 15)
    sm = AlphaSmoother(alphas, degree=5)
    assert sm.condition < 10.0
    c = np.array([0.3, -1.2, 0.5, 0.1, -0.05, 0.02])
    h = sm.basis(alphas) @ c
    dense = np.linspace(alphas[0], alphas[-1], 50)
    op, dop = sm.operator(dense)
    assert np.allclose(op @ h, sm.basis(dense) @ c, rtol=1e-12)
    assert np.allclose(dop @ h, sm.basis(dense, 1) @ c, rtol=1e-12)
    # d/dα by central differences
    eps = 1e-6
    fd = (sm.weights(dense + eps) - sm.weights(dense - eps)) / (2 * eps)
    assert np.allclose(fd, sm.weights(dense, 1), atol=1e-6)
    # monomial form used by the compiled saddle search: e^α Σ a_p t^p with a = c · to_monomial
    mono = np.polynomial.polynomial.polyval(sm.scaled(dense), c @ sm.to_monomial)
    assert np.allclose(np.exp(dense) * mono, sm.basis(dense) @ c, rtol=1e-12)


@pytest.mark.parametrize("modes", ["3N", "3N-3"])
def test_harmonic_reference_is_exact(crystal, modes):
    """θ = (1, …, 1) is the plain harmonic crystal: F_vib = F_H to 1e-10 eV for either r."""
    ts, _ = crystal
    conv = Conventions(modes=modes)
    est = DDOSEstimator(ts.phase_volume, conv)
    ref = ts.phase_volume.reference
    p = est.predict(np.ones(3), TEMPS)
    f_h = harmonic_free_energy(ref.omega, ref.mass, TEMPS, conv.modes_per_atom(ref.n_atoms))
    assert np.all(p.solved)
    assert np.allclose(p.F_vib[:, 0], f_h, rtol=0.0, atol=1e-10)
    # θ_H rescaled: F_vib(cθ_H) = F_H + (r/2) k_BT ln c (§10.4)
    c = 1.1
    pc = est.predict(c * np.ones(3), TEMPS)
    r = conv.modes_per_atom(ref.n_atoms)
    assert np.allclose(pc.F_vib[:, 0], f_h + 0.5 * r * KB * TEMPS * np.log(c), atol=1e-10)


def test_grouped_crystal_within_error_bars(crystal):
    ts, est = crystal
    theta = np.array([1.1, 0.95, 1.0])
    p = est.predict(theta, TEMPS, gradient=True)
    exact = ts.exact(theta, TEMPS)
    assert np.all(p.solved)
    # D-DOS saddle itself is O(1/N) off (≈ 0.01 meV here): allow 3σ_F + 0.05 meV
    assert np.all(np.abs(p.F_vib - exact.F_vib) <= 3 * p.sigma_F + 5e-5)
    assert np.allclose(p.D_star, exact.D_star, rtol=0.02)


def test_gaussian_matches_exact_cumulant_answer(gauss):
    ts, est = gauss
    rng = np.random.default_rng(0)
    theta = ts.theta_ref * (1.0 + 0.05 * rng.standard_normal((3, 4)))
    p = est.predict(theta, TEMPS, gradient=True)
    exact = ts.exact(theta, TEMPS)
    assert np.all(p.solved)
    assert np.all(np.abs(p.F_vib - exact.F_vib) <= 4 * p.sigma_F + 1e-6)
    assert np.allclose(p.alpha_star, exact.alpha_star, atol=0.02)
    assert np.allclose(p.D_star, exact.D_star, rtol=0.02)
    cum = est.cumulant(theta, TEMPS)
    assert np.all(np.abs(cum.F_vib - p.F_vib) <= 4 * p.sigma_F + 1e-6)


def test_theta_rescaling_relations(gauss):
    """§10.4: F_total(cθ, T) = c F_total(θ, T/c) − (r/2)k_BT ln c and D*(cθ, T) = D*(θ, T/c)."""
    ts, est = gauss
    theta = ts.theta_ref * np.array([1.02, 0.97, 1.0, 1.01])
    c = 1.1
    a = est.predict(c * theta, TEMPS, gradient=True)
    b = est.predict(theta, TEMPS / c, gradient=True)
    assert np.allclose(a.F_total, c * b.F_total - 0.5 * est.r * KB * TEMPS[:, None] * np.log(c),
                       rtol=0.0, atol=1e-9)
    assert np.allclose(a.D_star, b.D_star, rtol=1e-7)


def test_gradient_entropy_and_hessian_match_finite_differences(gauss):
    ts, est = gauss
    theta = ts.theta_ref * np.array([1.03, 0.96, 1.0, 1.02])
    n_d = theta.size
    p = est.predict(theta, TEMPS, gradient=True, hessian=True)
    h = 1e-4 * np.abs(theta)
    plus = theta + np.diag(h)
    minus = theta - np.diag(h)
    fp = est.predict(np.vstack([plus, minus]), TEMPS, gradient=True)
    fd = (fp.F_total[:, :n_d] - fp.F_total[:, n_d:]) / (2 * h)
    assert np.allclose(fd, p.D_star[:, 0], rtol=0.01)
    fd_hess = (fp.D_star[:, :n_d] - fp.D_star[:, n_d:]) / (2 * h[None, :, None])
    assert np.allclose(fd_hess, p.hessian[:, 0], rtol=0.02, atol=0.02 * np.abs(fd_hess).max())
    scale = np.abs(p.hessian).max()
    assert np.allclose(p.hessian, np.swapaxes(p.hessian, -1, -2), atol=1e-9 * scale)
    assert np.all(np.linalg.eigvalsh(p.hessian) <= 1e-9 * scale)
    dt = 0.5
    ft = est.predict(theta, np.concatenate([TEMPS + dt, TEMPS - dt]))
    s_fd = -(ft.F_total[: TEMPS.size] - ft.F_total[TEMPS.size :]) / (2 * dt)
    assert np.allclose(s_fd, p.entropy, rtol=1e-3)
    # energy identity F + Ts = β0 + θ·D* + (r/2)k_BT (§2.4)
    energy = p.F_total + TEMPS[:, None] * p.entropy
    assert np.allclose(energy[:, 0], p.D_star[:, 0] @ theta + 0.5 * est.r * KB * TEMPS)


def test_free_energy_is_concave_in_theta(gauss):
    ts, est = gauss
    rng = np.random.default_rng(2)
    theta = ts.theta_ref
    direction = 0.02 * rng.standard_normal((5, theta.size))
    models = np.concatenate([theta + direction, theta - direction, np.tile(theta, (1, 1))])
    p = est.predict(models, TEMPS)
    second = p.F_total[:, :5] + p.F_total[:, 5:10] - 2 * p.F_total[:, 10:11]
    assert np.all(second <= 1e-12)


def test_beta0_shifts_free_energy_one_for_one(gauss):
    ts, est = gauss
    a = est.predict(ts.theta_ref, TEMPS)
    b = est.predict(ts.theta_ref, TEMPS, beta0=0.37)
    assert np.allclose(b.F_total - a.F_total, 0.37, rtol=0.0, atol=1e-12)
    assert np.array_equal(a.F_vib, b.F_vib)


def test_unsolved_outside_the_shells_and_when_clamped(gauss):
    ts, est = gauss
    p = est.predict(ts.theta_ref, np.array([50.0, 700.0, 8000.0]))
    assert list(p.solved[:, 0]) == [False, True, False]
    assert p.status[0, 0] & ALPHA_LOW and p.status[2, 0] & ALPHA_HIGH
    assert "below" in p.reasons(0, 0)[0] and "above" in p.reasons(2, 0)[0]
    assert np.all(np.isfinite(p.F_total))
    tilted = est.predict(ts.theta_ref * np.array([3.0, -1.0, 1.0, 1.0]), np.array([700.0]))
    assert not tilted.solved[0, 0] and tilted.status[0, 0] & CLAMPED
    assert tilted.n_clamped[0, 0] > 0


def test_pairs_beyond_the_table_take_the_affine_path_exactly(gauss, monkeypatch):
    """Pairs clamped at every temperature of a call join the T-independent sums as affine
    functions of β; the result equals the exact table path to rounding (F, σ_F, counts, D*,
    Hessian)."""
    from phasetune.estimator.conjugate import ConjugateTables

    ts, est = gauss
    models = ts.theta_ref * np.array([[3.0, -1.0, 1.0, 1.0], [2.5, 1.0, -0.5, 1.0],
                                      [1.02, 0.99, 1.0, 1.01]])
    temps = np.array([600.0, 700.0, 800.0])
    fast = est.predict(models, temps, gradient=True, hessian=True)
    assert fast.info["linear_pairs"] > 0
    paths = ConjugateTables.paths
    monkeypatch.setattr(ConjugateTables, "paths",
                        lambda self, *args, **kw: paths(self, *args, **{**kw, "linear": False}))
    exact = est.predict(models, temps, gradient=True, hessian=True)
    assert exact.info["linear_pairs"] == 0
    assert exact.info["exact_table_pairs"] == (fast.info["exact_table_pairs"]
                                              + fast.info["linear_pairs"])
    assert np.array_equal(fast.n_clamped, exact.n_clamped) and fast.n_clamped.max() > 0
    assert np.array_equal(fast.status, exact.status)
    for key in ("F_total", "sigma_F", "alpha_star", "entropy", "D_star", "hessian"):
        a, b = getattr(fast, key), getattr(exact, key)
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12), key


def test_error_bars_are_calibrated_over_seeds():
    """|F − F_exact|/σ_F over independent campaigns is O(1): neither ≪ 1 nor ≫ 1."""
    theta = np.array([1.05, 0.97, 1.02, 0.99])
    ratios = []
    for seed in range(10):
        ts = gaussian_system(seed=100 + seed, n_samples=800, n_batches=4, n_shells=10)
        est = DDOSEstimator(ts.phase_volume, ts.conventions)
        p = est.predict(theta * ts.theta_ref, np.array([600.0, 900.0]))
        ex = ts.exact(theta * ts.theta_ref, np.array([600.0, 900.0]))
        ratios.append((p.F_vib - ex.F_vib) / p.sigma_F)
    rms = np.sqrt(np.mean(np.square(ratios)))
    assert 0.3 < rms < 3.0, rms


def test_chunking_and_threads_do_not_change_results(gauss):
    ts, est = gauss
    models = ts.theta_ref * (1 + 0.03 * np.random.default_rng(3).standard_normal((7, 4)))
    a = est.predict(models, TEMPS, gradient=True)
    b = est.predict(models, TEMPS, gradient=True, chunk_size=2, threads=2)
    assert np.allclose(a.F_total, b.F_total, rtol=0, atol=1e-13)
    assert np.allclose(a.D_star, b.D_star, rtol=1e-12)
    # chunks run in threads: the thread count does not change a bit
    c = est.predict(models, TEMPS, gradient=True, chunk_size=2, threads=1)
    for key in ("F_total", "sigma_F", "alpha_star", "D_star", "status"):
        assert np.array_equal(getattr(b, key), getattr(c, key)), key


def test_theta_validation(gauss):
    ts, est = gauss
    with pytest.raises(EstimatorError, match="N_D = 4"):
        est.predict(np.ones(5), TEMPS)
    with pytest.raises(EstimatorError, match="positive"):
        est.predict(ts.theta_ref, np.array([-1.0]))
    pv = ts.phase_volume
    fixed = dataclasses.replace(pv.descriptors, fixed=np.array([False, False, False, True]))
    est_fixed = DDOSEstimator(dataclasses.replace(pv, descriptors=fixed), ts.conventions,
                              fit=est.fit)
    est_fixed.predict(ts.theta_ref, TEMPS)  # coefficient 1: fine
    with pytest.raises(EstimatorError, match="coefficient 1"):
        est_fixed.predict(ts.theta_ref * 1.1, TEMPS)


def test_stale_fit_is_refused(gauss, crystal):
    ts, _ = gauss
    other = fit_phase_volume(gaussian_system(seed=2).phase_volume)
    with pytest.raises(EstimatorError, match="stale"):
        DDOSEstimator(ts.phase_volume, ts.conventions, fit=other)


def test_prediction_output_and_systematics(gauss):
    ts, est = gauss
    p = est.predict(ts.theta_ref, TEMPS, gradient=True)
    payload = json.loads(json.dumps(p.to_dict()))
    assert payload["conventions"]["modes"] == "3N"
    assert np.array(payload["F_total"]).shape == (3, 1)
    assert np.array(payload["D_star"]).shape == (3, 1, 4)
    sysm = est.systematics(ts.theta_ref, TEMPS)
    assert np.all(np.isfinite(sysm["degree"])) and np.all(np.isfinite(sysm["cumulant"]))
    assert np.all(sysm["degree"] < 1e-3) and np.all(sysm["cumulant"] < 1e-3)


def test_saddle_takes_interior_minimum_over_spurious_edge_descent():
    """f(α) with a physical interior minimum that turns down again at the top of the grid
    (fluctuation term ∝ −e^{2α}): the saddle is the interior minimum, not the grid edge."""
    from phasetune.estimator.saddle import interior_minimum

    a = np.linspace(-5.0, -2.0, 301)
    f = (a + 3.5) ** 2 - 400.0 * np.clip(a + 2.3, 0.0, None) ** 3
    k = interior_minimum(f[None, :])[0]
    assert a[k] == pytest.approx(-3.5, abs=0.011)
    assert np.argmin(f) == a.size - 1  # the global minimum is the (spurious) edge
    monotone = -1.5 * a
    assert interior_minimum(monotone[None, :])[0] == a.size - 1  # no interior minimum: edge


def test_saddle_weights_are_the_smoother_operator_at_the_saddle():
    """The compiled saddle's w(α*), w′(α*) and (Lh)(α*) are those of the window's
    :class:`AlphaSmoother` (its Legendre form), and f′(α*) = 0 there."""
    from phasetune.estimator.saddle import SaddleSolver
    from phasetune.estimator.smoother import AlphaSmoother

    r, omega_bar = 3.0, 12.0
    alphas = np.linspace(-5.2, -2.3, 14)
    rng = np.random.default_rng(4)
    temps = np.array([300.0, 800.0, 1500.0])
    h = 0.5 * omega_bar / (KB * temps[:, None]) * np.exp(alphas) * (
        1.0 + 0.01 * rng.standard_normal((temps.size, alphas.size)))
    solver = SaddleSolver(alphas, r)
    sad = solver.solve(h)
    for row in range(temps.size):
        inside = np.flatnonzero(sad.weights[row])
        start = inside[0]
        sm = AlphaSmoother(alphas[start:start + solver.size])
        window = slice(start, start + solver.size)
        alpha = sad.alpha[row:row + 1]
        assert np.allclose(sad.weights[row, window], sm.weights(alpha)[0], rtol=1e-10,
                           atol=1e-12)
        assert np.allclose(sad.dweights[row, window], sm.weights(alpha, 1)[0], rtol=1e-10,
                           atol=1e-12)
        assert sad.f_smooth[row] == pytest.approx(sm.weights(alpha)[0] @ h[row, window],
                                                  rel=1e-12)
        assert sm.weights(alpha, 1)[0] @ h[row, window] == pytest.approx(0.5 * r, rel=1e-9)


def test_local_smoother_is_not_pulled_by_far_shells():
    """Harmonic shell values h_i = βω̄e^{α_i}/2 give α* = ln(r k_BT/ω̄) exactly.  Spoiling the
    three highest of 14 shells with a steep −e^{2α} descent (the out-of-range behaviour seen on
    real archives) must leave the saddle untouched: the local window does not contain them,
    while one polynomial over all shells would be pulled off by them."""
    from phasetune.estimator.saddle import SaddleSolver
    from phasetune.estimator.smoother import AlphaSmoother

    r, omega_bar, t = 3.0, 12.0, 800.0
    beta = 1.0 / (KB * t)
    alphas = np.linspace(-5.2, -2.3, 14)
    clean = 0.5 * beta * omega_bar * np.exp(alphas)
    spoiled = clean.copy()
    spoiled[-3:] -= 40.0 * np.exp(2 * (alphas[-3:] - alphas[-4]))
    solver = SaddleSolver(alphas, r)
    exact = np.log(r * KB * t / omega_bar)
    a, b = solver.solve(clean[None, :]), solver.solve(spoiled[None, :])
    assert a.alpha[0] == pytest.approx(exact, abs=1e-9)
    assert b.alpha[0] == pytest.approx(exact, abs=1e-9)
    assert b.f_smooth[0] == pytest.approx(a.f_smooth[0], abs=1e-12)
    assert a.status[0] == 0 and b.status[0] == 0
    assert np.all(b.weights[0, -3:] == 0.0)  # the spoiled shells carry no weight
    # one global polynomial is pulled off
    sm = AlphaSmoother(alphas)
    dense = np.linspace(alphas[0], alphas[-1], 2001)
    values = sm.weights(dense) @ spoiled - 0.5 * r * dense
    assert abs(dense[np.argmin(values[:1500])] - exact) > 0.01
