"""Frame arithmetic for shell statistics (method.md §5): the pilot frame, projection onto it, power
sums, histograms and pairwise (Chan) merging of moments.  Pure numpy, float64.

Every function here is deterministic, and :func:`project`, :func:`power_sums` and
:func:`histogram` act row by row, so a sample's contribution does not depend on which batch it
arrived in.
"""

from __future__ import annotations

import numpy as np

from .model import HIST_RANGE, N_BINS, N_POWERS, ShellStats

ZERO_VARIANCE = 1e-12
"""Frame components with eigenvalue ≤ ZERO_VARIANCE × largest are deterministic: σ_f = 1."""

Frame = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
"""(μ_f (N_D,), R_f (N_D, N_D), eigenvalues (N_D,), σ_f (N_D,))."""


def default_hist_edges(n_components: int) -> np.ndarray:
    """(N_D, N_BINS + 1) uniform bin edges over ±HIST_RANGE in u units."""
    edges = np.linspace(-HIST_RANGE, HIST_RANGE, N_BINS + 1)
    return np.tile(edges, (n_components, 1))


def chan_merge(n_a: int, mean_a, m2_a, n_b: int, mean_b, m2_b):
    """Pairwise merge of (count, mean, sum of squared deviations) — Chan, Golub & LeVeque.

    Works for scalars (m2 scalar) and vectors (m2 = Σ(d − μ)(d − μ)ᵀ matrix).  Returns
    ``(n, mean, m2)``; an empty side returns the other unchanged.
    """
    if n_b == 0:
        return n_a, mean_a, m2_a
    if n_a == 0:
        return n_b, mean_b, m2_b
    n = n_a + n_b
    delta = mean_b - mean_a
    mean = mean_a + delta * (n_b / n)
    m2 = m2_a + m2_b + np.multiply.outer(delta, delta) * (n_a * n_b / n)
    return n, mean, m2


def frame_of(stats: ShellStats) -> Frame:
    """The frame arrays of a shell (not copied)."""
    return stats.frame_mean, stats.frame_rotation, stats.frame_eigenvalues, stats.frame_scale


def fix_frame(pilot: np.ndarray) -> Frame:
    """Frame from pilot samples (n, N_D): μ_f, R_f (columns by decreasing eigenvalue, each column
    signed so that its largest-magnitude entry is positive), eigenvalues and σ_f (1 for
    zero-variance components)."""
    n = pilot.shape[0]
    mu = np.ascontiguousarray(pilot.T).sum(axis=1) / n
    dev = pilot - mu
    cov = dev.T @ dev / max(n - 1, 1)
    cov = 0.5 * (cov + cov.T)
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals, kind="stable")[::-1]
    evals, evecs = evals[order], evecs[:, order]
    pivot = np.argmax(np.abs(evecs), axis=0)
    evecs = evecs * np.where(evecs[pivot, np.arange(evecs.shape[1])] < 0, -1.0, 1.0)
    largest = max(float(evals[0]), 0.0)
    deterministic = evals <= ZERO_VARIANCE * largest
    scale = np.where(deterministic, 1.0, np.sqrt(np.clip(evals, 0.0, None)))
    return mu, np.ascontiguousarray(evecs), evals, scale


def project(D: np.ndarray, mu: np.ndarray, rotation: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """u = R_fᵀ(D − μ_f)/σ_f, (n, N_D), computed row-independently (no BLAS blocking), so a sample
    gets bit-identical u whatever batch it arrives in."""
    dev = D - mu
    out = np.zeros_like(dev)
    for k in range(dev.shape[1]):
        out += dev[:, k : k + 1] * rotation[k]
    return out / scale


def power_sums(u: np.ndarray) -> np.ndarray:
    """(N_D, N_POWERS) Σ_s u_sj^p by repeated multiplication and pairwise summation."""
    ut = np.ascontiguousarray(u.T)
    out = np.empty((ut.shape[0], N_POWERS))
    out[:, 0] = ut.shape[1]
    acc = np.ones_like(ut)
    for p in range(1, N_POWERS):
        acc *= ut
        out[:, p] = acc.sum(axis=1)
    return out


def histogram(u: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of u per bin (N_D, n_bins) and under/overflow counts (N_D,).

    Bins are [e_i, e_{i+1}) except the last, which includes its right edge (numpy convention).
    """
    n_d, n_bins = edges.shape[0], edges.shape[1] - 1
    counts = np.zeros((n_d, n_bins), dtype=np.int64)
    under = np.zeros(n_d, dtype=np.int64)
    over = np.zeros(n_d, dtype=np.int64)
    for j in range(n_d):
        col = u[:, j]
        idx = np.searchsorted(edges[j], col, side="right") - 1
        idx[col == edges[j, -1]] = n_bins - 1
        under[j] = np.count_nonzero(col < edges[j, 0])
        over[j] = np.count_nonzero(col > edges[j, -1])
        inside = (idx >= 0) & (idx < n_bins)
        counts[j] = np.bincount(idx[inside], minlength=n_bins)
    return counts, under, over


def residual_correlation(stats: ShellStats) -> float:
    """Largest |correlation| between frame components over all samples of a shell (method.md §5):
    0 if the pilot frame still decorrelates the full data.  Zero-variance components are skipped."""
    rotation, scale = np.asarray(stats.frame_rotation), np.asarray(stats.frame_scale)
    evals = np.asarray(stats.frame_eigenvalues)
    live = evals > ZERO_VARIANCE * max(float(evals.max(initial=0.0)), 0.0)
    cov_u = (rotation.T @ np.asarray(stats.cov) @ rotation / np.outer(scale, scale))[
        np.ix_(live, live)
    ]
    sd = np.sqrt(np.clip(np.diag(cov_u), 0.0, None))
    if live.sum() < 2 or not np.all(sd > 0):
        return 0.0
    corr = cov_u / np.outer(sd, sd)
    np.fill_diagonal(corr, 0.0)
    return float(np.max(np.abs(corr)))
