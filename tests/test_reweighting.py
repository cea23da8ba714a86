"""Trajectory reweighting (phasetune.reweighting): the estimator on Gaussian descriptor sums with
an exact answer, the LAMMPS frame sampler and its HDF5 store, and θ-path TI as ground truth."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.constants import KB
from phasetune.errors import EstimatorError
from phasetune.nonlinear.model import LinearModel
from phasetune.reweighting import LowEffectiveSampleError, cross_phase, reweight

T_GAUSS = 1000.0
BETA = 1.0 / (KB * T_GAUSS)


def gaussian_frames(n_frames: int, n_atoms: int, mu: np.ndarray, cov: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Per-atom descriptors (F, N, K) whose sum over atoms is exactly N(μ, Σ)-distributed: the
    sum is drawn, then spread over the atoms with zero-sum per-atom noise."""
    sums = rng.multivariate_normal(mu, cov, size=n_frames)
    noise = rng.normal(size=(n_frames, n_atoms, len(mu)))
    noise -= noise.mean(axis=1, keepdims=True)
    return sums[:, None, :] / n_atoms + 0.1 * noise


def gaussian_problem(seed: int = 1, k: int = 5, n_atoms: int = 16):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(k, k))
    cov = 2e-3 * (a @ a.T + k * np.eye(k))          # Σ of Σ_i B_i, (descriptor units)²
    mu = rng.normal(size=k) * n_atoms
    theta0 = rng.normal(size=k)
    return rng, mu, cov, theta0, n_atoms


def exact_delta(mu: np.ndarray, cov: np.ndarray, delta: np.ndarray) -> float:
    """δF (eV, total) = Δθ·μ − (β/2)ΔθᵀΣΔθ: minus k_BT times the cumulant generating function
    of the Gaussian ΔU = Δθ·Σ_i B_i at −β."""
    return float(delta @ mu - 0.5 * BETA * delta @ cov @ delta)


def test_gaussian_value_gradient_and_ess_are_exact():
    """Many Δθ at once: δF within 4σ of the exact value, σ equal to the exact delta-method
    error, ESS fraction equal to exp(−β²ΔθᵀΣΔθ), and the gradient equal to μ − βΣΔθ."""
    rng, mu, cov, theta0, n = gaussian_problem()
    model = LinearModel(len(mu), beta0=-3.0)
    frames = gaussian_frames(200_000, n, mu, cov, rng)
    directions = rng.normal(size=(6, len(mu)))
    # steps of ΔθᵀΣΔθ β² between 0.05 and 0.6
    scale = np.sqrt(np.linspace(0.05, 0.6, 6) / (BETA**2 * np.einsum(
        "mk,kl,ml->m", directions, cov, directions)))
    deltas = directions * scale[:, None]
    res = reweight(frames, theta0, theta0 + deltas, model, T_GAUSS, min_ess=0.0)
    s2 = BETA**2 * np.einsum("mk,kl,ml->m", deltas, cov, deltas)
    exact = np.array([exact_delta(mu, cov, d) for d in deltas]) / n
    sigma_exact = np.sqrt(np.expm1(s2) / len(frames)) / BETA / n
    assert np.all(np.abs(res.delta_F - exact) < 4 * res.sigma)
    # blocking keeps the largest level's estimate: never below the exact error, not far above
    assert np.all(res.sigma > 0.85 * sigma_exact) and np.all(res.sigma < 1.7 * sigma_exact)
    np.testing.assert_allclose(res.ess_fraction, np.exp(-s2), rtol=0.05)
    grad_exact = (mu[None, :] - BETA * deltas @ cov) / n
    assert np.all(np.abs(res.gradient - grad_exact) < 5 * res.gradient_sigma + 1e-12)
    # the σ of the gradient is not vacuous: the first-order estimate μ/N is far outside it
    assert np.any(np.abs(res.gradient[-1] - mu / n) > 20 * res.gradient_sigma[-1])
    np.testing.assert_allclose(res.delta_F_total, res.delta_F * n)


def test_sigma_accounts_for_correlated_frames():
    """Each frame repeated 16 times (statistical inefficiency 16): the estimate is that of the
    distinct frames, and so must be its error, 4× the naive error of the repeated series."""
    rng, mu, cov, theta0, n = gaussian_problem(seed=9)
    frames = gaussian_frames(4000, n, mu, cov, rng)
    direction = rng.normal(size=len(mu))
    delta = direction * np.sqrt(0.3 / (BETA**2 * direction @ cov @ direction))
    model = LinearModel(len(mu))
    distinct = reweight(frames, theta0, theta0 + delta, model, T_GAUSS)
    repeated = reweight(np.repeat(frames, 16, axis=0), theta0, theta0 + delta, model, T_GAUSS)
    assert repeated.delta_F[0] == pytest.approx(distinct.delta_F[0], rel=1e-9)
    sigma_exact = np.sqrt(np.expm1(0.3) / len(frames)) / BETA / n
    assert repeated.sigma[0] > 0.85 * sigma_exact
    assert repeated.gradient_sigma[0] == pytest.approx(distinct.gradient_sigma[0], rel=0.5)


def test_gradient_is_the_derivative_of_the_estimator():
    """Central finite differences of δF(θ) on the same frames equal the reweighted ⟨∂U/∂θ⟩_θ."""
    rng, mu, cov, theta0, n = gaussian_problem(seed=4)
    model = LinearModel(len(mu))
    frames = gaussian_frames(2000, n, mu, cov, rng)
    theta = theta0 + 0.3 / (BETA * np.sqrt(np.trace(cov))) * rng.normal(size=len(mu))
    res = reweight(frames, theta0, theta, model, T_GAUSS, min_ess=0.0)
    h = 1e-5
    bumps = theta[None, :] + h * np.vstack([np.eye(len(mu)), -np.eye(len(mu))])
    f = reweight(frames, theta0, bumps, model, T_GAUSS, min_ess=0.0).delta_F
    fd = (f[: len(mu)] - f[len(mu):]) / (2 * h)
    np.testing.assert_allclose(res.gradient[0], fd, rtol=1e-6, atol=1e-9)


class _GenericLinear:
    """LinearModel behind the generic DescriptorModel path (one θ at a time)."""

    def __init__(self, k: int, beta0: float):
        self._m = LinearModel(k, beta0)
        self.n_params = self.n_descriptors = k

    def energies(self, b, theta, species=None):
        return self._m.energies(b, theta)

    def energies_and_gradients(self, b, theta, species=None):
        return self._m.energies_and_gradients(b, theta)


def test_generic_model_path_equals_the_linear_fast_path():
    rng, mu, cov, theta0, n = gaussian_problem(seed=7)
    frames = gaussian_frames(500, n, mu, cov, rng)
    thetas = theta0 + 0.01 * rng.normal(size=(3, len(mu)))
    fast = reweight(frames, theta0, thetas, LinearModel(len(mu), -2.0), T_GAUSS, min_ess=0.0)
    slow = reweight(frames, theta0, thetas, _GenericLinear(len(mu), -2.0), T_GAUSS, min_ess=0.0)
    np.testing.assert_allclose(slow.delta_F, fast.delta_F, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(slow.gradient, fast.gradient, rtol=1e-9)
    np.testing.assert_allclose(slow.ess, fast.ess, rtol=1e-9)
    # θ = θ0 exactly: δF = 0, every frame counts
    zero = reweight(frames, theta0, theta0, LinearModel(len(mu)), T_GAUSS)
    assert zero.delta_F[0] == 0.0 and zero.ess_fraction[0] == pytest.approx(1.0)


def test_low_ess_is_refused_or_flagged():
    rng, mu, cov, theta0, n = gaussian_problem(seed=2)
    model = LinearModel(len(mu))
    frames = gaussian_frames(4000, n, mu, cov, rng)
    direction = rng.normal(size=len(mu))
    far = direction * np.sqrt(3.0 / (BETA**2 * direction @ cov @ direction))  # e^{-3}: 5 %
    near = 0.05 * far
    with pytest.raises(LowEffectiveSampleError) as info:
        reweight(frames, theta0, theta0 + np.vstack([near, far]), model, T_GAUSS)
    text = str(info.value)
    assert "effective sample size" in text and "threshold 0.5" in text
    assert "re-sample" in text and "\n" not in text
    res = reweight(frames, theta0, theta0 + np.vstack([near, far]), model, T_GAUSS, flags=True)
    assert res.flagged.tolist() == [False, True]
    assert res.ess_fraction[1] < 0.2
    # a configurable threshold
    reweight(frames, theta0, theta0 + far, model, T_GAUSS, min_ess=0.01)
    with pytest.raises(EstimatorError):
        reweight(frames[:, :, :3], theta0, theta0, model, T_GAUSS)


def test_anchor_and_cross_phase():
    rng, mu, cov, theta0, n = gaussian_problem(seed=3)
    model = LinearModel(len(mu))
    delta = 1e-3 * rng.normal(size=len(mu))
    a = reweight(gaussian_frames(3000, n, mu, cov, rng), theta0, theta0 + delta, model, T_GAUSS)
    b = reweight(gaussian_frames(3000, n, 0.9 * mu, cov, rng), theta0, theta0 + delta, model,
                 T_GAUSS)
    anchored = a.with_anchor(-10.0, 0.002)
    assert anchored.F[0] == pytest.approx(-10.0 + a.delta_F[0])
    assert anchored.F_sigma[0] == pytest.approx(np.hypot(0.002, a.sigma[0]))
    value, sigma = cross_phase(a, b, 0.05, 0.001)
    assert value[0] == pytest.approx(0.05 + b.delta_F[0] - a.delta_F[0])
    exact = 0.05 + (exact_delta(0.9 * mu, cov, delta) - exact_delta(mu, cov, delta)) / n
    assert abs(value[0] - exact) < 4 * np.hypot(a.sigma[0], b.sigma[0])
    assert sigma[0] > 0.001
