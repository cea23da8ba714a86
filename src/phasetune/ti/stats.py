"""Statistics of MD time series: block-averaged errors, statistical inefficiency, automatic
equilibration detection, and Gauss–Legendre quadrature on [0, 1].
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MIN_BLOCKS = 16
"""Blocking levels with fewer blocks than this are too noisy to use."""
MAX_DRIFT = 4.0
"""Largest |first third − last third| / error of a stationary production run."""


def gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(λ_k, w_k), each (n,): Gauss–Legendre nodes (ascending, all inside (0, 1)) and weights
    on [0, 1] (Σ w_k = 1).  Exact for polynomials of degree ≤ 2n − 1."""
    if n < 1:
        raise ValueError("need at least one quadrature node")
    x, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (x + 1.0), 0.5 * w


def statistical_inefficiency(x: np.ndarray, window: float = 6.0) -> float:
    """g = 2τ_int, τ_int = ½ + Σ_{t=1}^{M} ρ(t), with Sokal's automatic window: the smallest M
    with M ≥ ``window``·τ_int(M).

    Unlike truncation at the first zero of ρ, the window also covers the slowly decaying
    envelope of the oscillating autocorrelations of underdamped phonons.  The number of
    independent samples is n/g.  Returns 1 for constant or very short series."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    dx = x - x.mean()
    var = float(dx @ dx) / n
    if n < 3 or var <= 0.0:
        return 1.0
    spectrum = np.fft.rfft(dx, 2 * n)
    acf = np.fft.irfft(spectrum * np.conj(spectrum))[:n] / (var * np.arange(n, 0, -1))
    tau = 0.5 + np.cumsum(acf[1:n // 2])
    inside = np.nonzero(np.arange(1, len(tau) + 1) >= window * tau)[0]
    g = 2.0 * tau[inside[0]] if len(inside) else 2.0 * tau[-1]
    return float(min(max(g, 1.0), n))


def blocking_error(x: np.ndarray) -> float:
    """Standard error of the mean of a correlated series by Flyvbjerg–Petersen blocking.

    Consecutive pairs are averaged repeatedly; the naive error of the block means rises with the
    block length until blocks are uncorrelated.  Returns the largest estimate among levels with
    at least MIN_BLOCKS blocks (conservative), or the naive error for very short series."""
    return float(blocking_errors(np.asarray(x, dtype=float)))


def blocking_errors(x: np.ndarray) -> np.ndarray:
    """:func:`blocking_error` of every column at once: x (n, ...) holds n samples of a series
    of any shape along axis 0; returns the errors, shape x.shape[1:] (NaN for n < 2)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return np.full(x.shape[1:], np.nan)
    best = np.std(x, axis=0, ddof=1) / np.sqrt(len(x))
    while len(x) >= 2 * MIN_BLOCKS:
        x = 0.5 * (x[: len(x) // 2 * 2: 2] + x[1: len(x) // 2 * 2: 2])
        best = np.maximum(best, np.std(x, axis=0, ddof=1) / np.sqrt(len(x)))
    return best


def detect_equilibration(x: np.ndarray, n_candidates: int = 20) -> tuple[int, float, float]:
    """Automatic equilibration detection (Chodera, JCTC 12, 1799 (2016)).

    Chooses the start t0 maximising the number of effective samples (n − t0)/g(t0), over
    ``n_candidates`` starts in the first half of the series.

    Returns:
        (t0, g, n_eff): discarded samples, statistical inefficiency and effective samples of x[t0:].
    """
    x = np.asarray(x, dtype=float)
    n = len(x)
    best = (0, 1.0, float(n))
    if n < 8:
        return best
    starts = np.unique(np.linspace(0, n // 2, n_candidates).astype(int))
    best_neff = -1.0
    for t0 in starts:
        g = statistical_inefficiency(x[t0:])
        n_eff = (n - t0) / g
        if n_eff > best_neff:
            best_neff, best = n_eff, (int(t0), g, n_eff)
    return best


@dataclass
class SeriesSummary:
    """Mean and error of one sampled time series.

    Attributes:
        mean: mean over the retained samples (units of the series).
        error: standard error of the mean: the larger of the block-averaged estimate and
            σ(g/n)^{1/2} from the statistical inefficiency.
        n_samples: samples recorded in production.
        discarded: further samples discarded by equilibration detection.
        inefficiency: statistical inefficiency g of the retained samples.
        n_effective: retained samples / g.
        drift: (mean of the last third − mean of the first third of the whole production) /
            combined error; a transient longer than the discarded equilibration shows up here.
        equilibrated: |drift| ≤ MAX_DRIFT.
    """

    mean: float
    error: float
    n_samples: int
    discarded: int
    inefficiency: float
    n_effective: float
    drift: float
    equilibrated: bool

    def to_dict(self) -> dict:
        return asdict(self)


def summarize_series(x: np.ndarray) -> SeriesSummary:
    """Detect equilibration, then average with a block-averaged error (see :class:`SeriesSummary`).
    """
    x = np.asarray(x, dtype=float)
    t0, g, n_eff = detect_equilibration(x)
    kept = x[t0:]
    third = len(x) // 3
    drift = 0.0
    if third >= 2:
        # error of a third's mean from the fluctuations about a linear trend of the whole
        # series (a trend would inflate the variance and inefficiency of the raw series)
        steps = np.arange(len(x))
        resid = x - np.polyval(np.polyfit(steps, x, 1), steps)
        err = np.std(resid) * np.sqrt(2.0 * statistical_inefficiency(resid) / third)
        if err > 0:
            drift = float((x[-third:].mean() - x[:third].mean()) / err)
    # block averaging needs blocks longer than the correlation time: with short series the
    # largest usable block may be too short, so the inefficiency estimate is a floor
    error = max(blocking_error(kept), float(np.std(kept, ddof=1) * np.sqrt(g / len(kept))))
    return SeriesSummary(
        mean=float(kept.mean()), error=error, n_samples=len(x), discarded=t0,
        inefficiency=float(g), n_effective=float(n_eff), drift=drift,
        equilibrated=bool(abs(drift) <= MAX_DRIFT))
