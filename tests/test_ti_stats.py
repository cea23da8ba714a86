"""TI statistics: Gauss–Legendre quadrature, block-averaged errors, equilibration detection."""

from __future__ import annotations

import numpy as np
import pytest

from phasetune.ti.stats import (
    blocking_error,
    detect_equilibration,
    gauss_legendre,
    statistical_inefficiency,
    summarize_series,
)


def _ar1(n: int, phi: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty(n)
    x[0] = rng.standard_normal() / np.sqrt(1 - phi**2)
    noise = rng.standard_normal(n)
    for i in range(1, n):
        x[i] = phi * x[i - 1] + noise[i]
    return x


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_gauss_legendre_on_unit_interval(n):
    lam, w = gauss_legendre(n)
    assert np.all((lam > 0) & (lam < 1)) and np.all(np.diff(lam) > 0)
    for degree in range(2 * n):
        assert w @ lam**degree == pytest.approx(1.0 / (degree + 1), rel=1e-12)


def test_block_error_matches_ar1_theory():
    """AR(1): g = (1 + φ)/(1 − φ); the blocking error ≈ σ (g/n)^{1/2} (within sampling noise)."""
    phi, n = 0.8, 2**15
    x = _ar1(n, phi, 1)
    g_exact = (1 + phi) / (1 - phi)
    exact = np.sqrt(g_exact / (1 - phi**2) / n)
    assert blocking_error(x) == pytest.approx(exact, rel=0.25)
    assert statistical_inefficiency(x) == pytest.approx(g_exact, rel=0.25)
    white = np.random.default_rng(2).standard_normal(4096)
    assert statistical_inefficiency(white) < 1.3


def test_equilibration_detection_discards_transient():
    x = _ar1(4000, 0.5, 3)
    x[:400] += np.linspace(20.0, 0.0, 400)
    t0, g, n_eff = detect_equilibration(x)
    assert 300 <= t0 <= 700 and n_eff > 1000
    s = summarize_series(x)
    assert abs(s.mean) < 0.2 and s.discarded == t0


def test_drift_flags_a_non_stationary_run():
    x = _ar1(3000, 0.5, 4) + np.linspace(0.0, 3.0, 3000)
    assert not summarize_series(x).equilibrated
    assert summarize_series(_ar1(3000, 0.5, 5)).equilibrated
