"""Score matching (method.md §6): Hermite algebra, Hyvärinen fits, uncertainties, entropy."""

from __future__ import annotations

import dataclasses
from math import factorial

import numpy as np
import pytest

from phasetune.archive.stats import ShellAccumulator
from phasetune.errors import PhasetuneError
from phasetune.scoring.entropy import ComponentEnvelope
from phasetune.scoring.hermite import (
    estimating_function_covariance,
    hermite_coefficients,
    hermite_series,
    hermite_values,
    score_normal_equations,
)
from phasetune.scoring.moments import shell_moments, u_to_z_moments
from phasetune.scoring.score_matching import (
    FIT_VERSION,
    ComponentFit,
    PhaseVolumeFit,
    bootstrap_covariance,
    fit_phase_volume,
    fit_shell,
    solve_score,
)
from phasetune.testsystems import gaussian_system, grouped_harmonic_system


def normal_moments(p_max: int) -> np.ndarray:
    """E[z^p] of a standard normal: (p − 1)!! for even p, 0 for odd p."""
    out = np.zeros(p_max + 1)
    for p in range(0, p_max + 1, 2):
        out[p] = np.prod(np.arange(p - 1, 0, -2)) if p else 1.0
    return out


def shell_from_samples(samples: np.ndarray, batches: int, alpha: float = -3.0):
    acc = ShellAccumulator(alpha, samples.shape[1])
    for b, chunk in enumerate(np.array_split(samples, batches)):
        acc.add_batch(b, chunk)
    return acc.to_stats(force_frame=True)


@pytest.fixture(scope="module")
def gauss():
    return gaussian_system(seed=3)


# ---------------------------------------------------------------------------------------------
# Hermite algebra


def test_hermite_polynomials_and_derivatives():
    z = np.linspace(-3.0, 3.0, 13)
    he = hermite_values(z, 8)
    c = hermite_coefficients(8)
    assert np.allclose(he, np.stack([np.polyval(row[::-1], z) for row in c], axis=-1))
    k = np.arange(9)
    assert np.allclose(hermite_values(z, 8, 1)[:, 1:], k[1:] * he[:, :-1])
    assert np.allclose(hermite_values(z, 8, 2)[:, 2:], k[2:] * (k[2:] - 1) * he[:, :-2])
    coef = np.random.default_rng(1).normal(size=9)
    for d in range(3):
        direct = hermite_values(z, 8, d) @ coef
        assert np.allclose(hermite_series(coef, z, d), direct, rtol=1e-12, atol=1e-9)


def test_normal_equations_of_exact_gaussian_moments():
    """He_k are orthogonal under N(0,1): A = diag(k·k!), b = (0, 2, 0, …) ⇒ â = (0, −½, 0, …)."""
    for k in range(2, 9):
        a_mat, b = score_normal_equations(normal_moments(4 * k), k)
        kk = np.arange(1, k + 1)
        assert np.allclose(a_mat, np.diag([q * factorial(q) for q in kk]))
        coef, _ = solve_score(normal_moments(4 * k), k, ridge=0.0)
        expected = np.zeros(k)
        expected[1] = -0.5
        assert np.allclose(coef, expected, atol=1e-12)


def test_estimating_function_covariance_matches_samples():
    rng = np.random.default_rng(2)
    z = rng.standard_normal(400_000)
    coef = np.array([0.1, -0.5, 0.05, -0.02])
    moments = np.array([np.mean(z**p) for p in range(13)])
    cov = estimating_function_covariance(moments, coef)
    lp = hermite_values(z, 4, 1)[:, 1:] @ coef
    g = hermite_values(z, 4, 1)[:, 1:] * lp[:, None] + hermite_values(z, 4, 2)[:, 1:]
    assert np.allclose(cov, np.cov(g.T, bias=True), rtol=1e-6, atol=1e-9)


def test_u_to_z_moments_is_exact():
    rng = np.random.default_rng(4)
    u = rng.gamma(3.0, size=(5000, 2))
    u_mom = np.stack([np.mean(u**p, axis=0) for p in range(9)], axis=1)
    shift, scale = u.mean(axis=0), u.std(axis=0)
    z = (u - shift) / scale
    direct = np.stack([np.mean(z**p, axis=0) for p in range(9)], axis=1)
    assert np.allclose(u_to_z_moments(u_mom, shift, scale), direct, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------------
# fits


def test_gaussian_data_give_minus_half_within_sigma(gauss):
    """§6.7: Gaussian descriptors ⇒ â = (0, −½, 0, 0) within a few standard errors."""
    d0 = gauss.phase_volume.reference.D0
    for stats in gauss.phase_volume.shells[::3]:
        fit = fit_shell(stats, d0, 128)
        sigma = np.sqrt(np.diagonal(fit.cov, axis1=1, axis2=2))
        expected = np.zeros(fit.coef.shape[1])
        expected[1] = -0.5
        assert np.all(np.abs(fit.coef - expected) < 4.5 * sigma)
        assert fit.source == "power_sums" and not fit.truncated


def test_sandwich_agrees_with_bootstrap_over_batches():
    rng = np.random.default_rng(5)
    samples = rng.gamma(8.0, size=(12_000, 2)) * np.array([1.0, 3.0])
    stats = shell_from_samples(samples, batches=60)
    fit = fit_shell(stats, np.zeros(2), 100, degree=4)
    boot = bootstrap_covariance(stats, fit, np.zeros(2), n_boot=300, seed=1)
    ratio = np.sqrt(np.diagonal(boot, axis1=1, axis2=2) / np.diagonal(fit.cov, axis1=1, axis2=2))
    assert np.all((ratio > 0.7) & (ratio < 1.4)), ratio


def test_auto_degree_prefers_low_degree_for_gaussian_and_higher_for_skewed():
    rng = np.random.default_rng(6)
    samples = np.stack([rng.standard_normal(20_000), rng.gamma(2.0, size=20_000)], axis=1)
    stats = shell_from_samples(samples, batches=20)
    fit = fit_shell(stats, np.zeros(2), 100, degree="auto")
    gaussian_like = np.argmin(np.abs(np.abs(stats.frame_rotation[0]) - 1.0))
    assert fit.held_out is not None and fit.held_out.shape == (2, 7)
    assert fit.degree[gaussian_like] <= 4
    assert fit.degree[1 - gaussian_like] >= 3


def test_truncated_histogram_fit_is_boundary_corrected():
    """Legacy histograms drop samples beyond ≈ ±2.5σ; the boundary term restores â₂ = −½."""
    rng = np.random.default_rng(7)
    stats = shell_from_samples(rng.standard_normal((40_000, 1)), batches=4)
    u = (rng.standard_normal(40_000))
    edges = np.linspace(-2.5, 2.5, 100)
    counts, _ = np.histogram(u, edges)
    trunc = dataclasses.replace(
        stats, power_sums=np.zeros((0, 1, stats.power_sums.shape[2])), count=40_000,
        mean=np.zeros(1), cov=np.ones((1, 1)), frame_mean=np.zeros(1),
        frame_rotation=np.eye(1), frame_eigenvalues=np.ones(1), frame_scale=np.ones(1),
        hist_counts=counts[None], hist_edges=edges[None], hist_under=np.zeros(1, int),
        hist_over=np.zeros(1, int), u_min=edges[:1], u_max=edges[-1:])
    sm = shell_moments(trunc, np.zeros(1))
    assert sm.truncated and sm.source == "histogram"
    fit = fit_shell(trunc, np.zeros(1), 100, degree=2)
    naive, _ = solve_score(sm.moments, 2)
    assert abs(fit.coef[0, 1] + 0.5) < 0.02
    assert abs(naive[0, 1] + 0.5) > 2 * abs(fit.coef[0, 1] + 0.5)


def test_deterministic_component_of_grouped_crystal():
    ts = grouped_harmonic_system(n_samples=600)
    fit = fit_shell(ts.phase_volume.shells[0], ts.phase_volume.reference.D0, 128)
    assert fit.deterministic.sum() == 1
    assert np.all(fit.degree[fit.deterministic] == 0)
    assert np.all(fit.scale[fit.deterministic] == 0.0)


def test_fit_is_reproducible_and_stale_fits_are_detected(gauss):
    pv = gauss.phase_volume
    a, b = fit_phase_volume(pv), fit_phase_volume(pv)
    assert a.input_hash == b.input_hash and a.version == FIT_VERSION
    assert all(np.array_equal(x.coef, y.coef) for x, y in zip(a.shells, b.shells, strict=True))
    assert not a.is_stale(pv)
    assert a.is_stale(pv, degree=6)
    stored = PhaseVolumeFit.from_dict(a.to_dict())
    assert not stored.is_stale(pv) and np.array_equal(stored.shells[1].cov, a.shells[1].cov)
    changed = dataclasses.replace(pv, shells=list(pv.shells))
    changed.shells[2] = dataclasses.replace(pv.shells[2], power_sums=pv.shells[2].power_sums[1:])
    assert a.is_stale(changed)


def test_invalid_degree_is_refused(gauss):
    stats = gauss.phase_volume.shells[0]
    for bad in (1, 9, 4.5, "best"):
        with pytest.raises(PhasetuneError, match="degree"):
            fit_shell(stats, np.zeros(4), 128, degree=bad)


# ---------------------------------------------------------------------------------------------
# entropy and envelope


def test_entropy_is_normalised_to_max_zero(gauss):
    fit = fit_shell(gauss.phase_volume.shells[4], gauss.phase_volume.reference.D0, 128)
    comp = fit.component(0)
    env = ComponentEnvelope.of(comp)
    x = comp.mean + comp.scale * np.linspace(comp.z_lo, comp.z_hi, 301)
    s = env.entropy(x, 128)
    assert np.max(s) <= 1e-14 and np.max(s) > -1e-6
    assert env.entropy(np.array([comp.mean + comp.scale * (comp.z_hi + 0.1)]), 128)[0] == -np.inf


def test_concave_envelope_bridges_non_concave_scores():
    comp = ComponentFit(4, np.array([0.0, -0.5, 0.0, 0.08]), np.zeros((4, 4)), 0.0, 1.0,
                        -4.0, 4.0, False)
    env = ComponentEnvelope.of(comp)
    assert not env.concave
    z = np.linspace(-4.0, 4.0, 801)
    values = env(z)
    assert np.all(values >= comp.log_density(z) - 1e-12)
    assert np.all(np.diff(values, 2) <= 1e-9)
    # the tilted maximiser never lands inside a bridge
    zs = env.argmax_tilted(np.linspace(env.kappa_min, env.kappa_max, 50))
    assert np.allclose(env(zs), comp.log_density(zs), atol=1e-10)
