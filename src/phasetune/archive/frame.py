"""Frame arithmetic for shell statistics (method.md §5): the pilot frame, projection onto it, power
sums, histograms and pairwise (Chan) merging of moments.  Pure numpy, float64.

Every function here is deterministic, and :func:`project`, :func:`power_sums` and
:func:`histogram` act row by row, so a sample's contribution does not depend on which batch it
arrived in.
"""

from __future__ import annotations

import numpy as np

from ..model import HIST_RANGE, N_BINS, N_POWERS, ShellStats

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


BLOCK = 1 << 20
"""Elements of the temporary arrays of :func:`power_sums` (work is split into blocks of components
that fit; results do not depend on the split)."""
PROJECT_BLOCK = 1 << 16
"""Elements of the rows of D that :func:`project` updates together (≈ 0.5 MB, cache-sized; results
do not depend on it)."""


def project(D: np.ndarray, mu: np.ndarray, rotation: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """u = R_fᵀ(D − μ_f)/σ_f, (n, N_D), computed row-independently (no BLAS blocking), so a sample
    gets bit-identical u whatever batch it arrives in.

    Each u_sj is the sequential sum 0 + Σ_k (D − μ_f)_sk R_kj over k = 0, 1, … (one element-wise
    multiply-add of all rows per k, in that order), divided by σ_f,j.  Cost O(n·N_D²) with an
    (rows, N_D) working set: at N_D = 495 (quadratic SNAP) ≈ 0.4 ms per row."""
    dev = D - mu
    n, n_d = dev.shape
    out = np.zeros((n, n_d))  # 0 + first term (turns −0.0 into +0.0)
    step = max(1, PROJECT_BLOCK // max(n_d, 1))
    for start in range(0, n, step):
        rows, acc = dev[start : start + step], out[start : start + step]
        for k in range(n_d):
            acc += rows[:, k, None] * rotation[k]
    return out / scale


def power_sums(u: np.ndarray) -> np.ndarray:
    """(N_D, N_POWERS) Σ_s u_sj^p of u (n, N_D), with u^p by repeated multiplication
    (u^p = u^(p−1)·u) and pairwise summation over the n samples."""
    ut = np.ascontiguousarray(u.T)
    n_d, n = ut.shape
    out = np.empty((n_d, N_POWERS))
    out[:, 0] = n
    step = max(1, BLOCK // max((N_POWERS - 1) * n, 1))
    for start in range(0, n_d if N_POWERS > 1 else 0, step):
        block = ut[start : start + step]
        powers = np.multiply.accumulate(np.broadcast_to(block, (N_POWERS - 1, *block.shape)),
                                        axis=0)  # (p − 1, j, s): u_sj^p
        out[start : start + step, 1:] = powers.sum(axis=2).T
    return out


def histogram(u: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts of u (n, N_D) per bin (N_D, n_bins) and under/overflow counts (N_D,), for bin
    edges (N_D, n_bins + 1) per component.

    Bins are [e_i, e_{i+1}) except the last, which includes its right edge (numpy convention).
    """
    n_d, n_bins = edges.shape[0], edges.shape[1] - 1
    if n_d and np.array_equal(edges, np.broadcast_to(edges[0], edges.shape)):
        idx = np.searchsorted(edges[0], u, side="right") - 1  # every component, one search
    else:
        idx = np.empty(u.shape, dtype=np.intp)
        for j in range(n_d):
            idx[:, j] = np.searchsorted(edges[j], u[:, j], side="right") - 1
    idx[u == edges[:, -1]] = n_bins - 1
    under = np.count_nonzero(u < edges[:, 0], axis=0).astype(np.int64)
    over = np.count_nonzero(u > edges[:, -1], axis=0).astype(np.int64)
    inside = (idx >= 0) & (idx < n_bins)
    flat = (idx + n_bins * np.arange(n_d))[inside]  # bin index within the (N_D, n_bins) table
    counts = np.bincount(flat, minlength=n_d * n_bins).astype(np.int64).reshape(n_d, n_bins)
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


def occupied_range(counts: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N_D,) lower edge of the first and upper edge of the last non-empty bin per component."""
    occupied = np.asarray(counts) > 0
    first = np.argmax(occupied, axis=1)
    last = occupied.shape[1] - 1 - np.argmax(occupied[:, ::-1], axis=1)
    rows = np.arange(occupied.shape[0])
    return edges[rows, first], edges[rows, last + 1]
