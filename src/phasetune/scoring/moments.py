"""Standardised moments of one shell's frame components (method.md §6 step 1, §5).

Score matching works on z = (x − m_j)/s_j with the *data* mean m_j and standard deviation s_j of
component j (never a histogram grid).  Two data sources:

* **power sums** (phasetune archives): M[b, j, p] = Σ_s u_sj^p per batch b, p ≤ 24, exact;
  u-moments are converted to z-moments by the binomial expansion.  Batches are kept separate for
  the held-out degree choice and the bootstrap.
* **histograms** (imported legacy data without power sums): bin-centre moments of u, standardised
  with the exact mean and covariance of the shell.  Legacy histograms are *truncated* (samples
  outside the range were dropped), which :mod:`.score_matching` corrects with a boundary term.

Coordinates: u = R_fᵀ(D − μ_f)/σ_f (frame-standardised), x = R_fᵀ(μ_f − D0) + σ_f⊙u (analysis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import comb

from ..archive.frame import ZERO_VARIANCE, occupied_range
from ..errors import ArchiveError
from ..model import ShellStats


@dataclass(frozen=True)
class ShellMoments:
    """Standardised moments of every frame component of one shell.

    Attributes:
        moments: (N_D, P) pooled E[z^p], p = 0 … P − 1.
        batch_moments: (n_batch, N_D, P) per-batch E[z^p] (n_batch = 0 for histogram data).
        batch_counts: (n_batch,) samples per batch.
        count: total samples n (the sandwich's n_eff for independent samples).
        mean: (N_D,) data mean m_j in analysis coordinates x (descriptor units).
        scale: (N_D,) data standard deviation s_j in x units (0 for deterministic components).
        z_lo, z_hi: (N_D,) support in z (from the shell's u_min/u_max).
        data_lo, data_hi: (N_D,) range the moments were computed over; for truncated data
            the samples outside it were dropped and the fit adds a boundary term there.
        deterministic: (N_D,) bool, zero-variance components.
        truncated: True if samples outside [data_lo, data_hi] were dropped (legacy histograms).
        source: ``"power_sums"`` or ``"histogram"``.
    """

    moments: np.ndarray
    batch_moments: np.ndarray
    batch_counts: np.ndarray
    count: int
    mean: np.ndarray
    scale: np.ndarray
    z_lo: np.ndarray
    z_hi: np.ndarray
    data_lo: np.ndarray
    data_hi: np.ndarray
    deterministic: np.ndarray
    truncated: bool
    source: str


def u_to_z_moments(u_moments: np.ndarray, shift: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """E[z^p] with z = (u − shift)/scale from E[u^k], exactly (binomial expansion).

    Args:
        u_moments: (..., N_D, P) raw moments of u.
        shift, scale: (N_D,).

    Returns:
        (..., N_D, P) raw moments of z.
    """
    p_count = u_moments.shape[-1]
    p = np.arange(p_count)
    binom = comb(p[:, None], p[None, :])  # C(p, k), zero for k > p
    expo = np.clip(p[:, None] - p[None, :], 0, None)
    neg = (-shift)[:, None, None] ** expo  # (N_D, p, k)
    weights = binom * np.where(p[None, :] <= p[:, None], neg, 0.0)
    z = np.einsum("jpk,...jk->...jp", weights, u_moments)
    return z / scale[:, None] ** p


def _deterministic(stats: ShellStats) -> np.ndarray:
    """Zero-variance components (eigenvalue < ZERO_VARIANCE × largest, method.md §6.5)."""
    ev = np.asarray(stats.frame_eigenvalues, dtype=float)
    largest = max(float(np.max(ev)), 0.0)
    return ev <= ZERO_VARIANCE * largest


def analysis_offset(stats: ShellStats, d0: np.ndarray) -> np.ndarray:
    """R_fᵀ(μ_f − D0): x = offset + σ_f⊙u (method.md §5 'Analysis coordinates')."""
    return stats.frame_rotation.T @ (stats.frame_mean - d0)


def shell_moments(stats: ShellStats, d0: np.ndarray) -> ShellMoments:
    """Standardised moments of ``stats`` from its power sums, else its histogram."""
    if stats.power_sums is not None and stats.power_sums.shape[0] > 0:
        return _from_power_sums(stats, d0)
    if stats.hist_counts is not None and np.sum(stats.hist_counts) > 0:
        return _from_histogram(stats, d0)
    raise ArchiveError(
        f"shell α={stats.alpha:g} has neither power sums nor histogram counts",
        "re-sample the shell or import it with its histograms",
    )


def _finish(stats, d0, u_mom, batch_u, counts, m_u, s_u, data, truncated, source):
    det = _deterministic(stats) | (s_u <= 0)
    s_u = np.where(det, 1.0, s_u)
    z = u_to_z_moments(u_mom, m_u, s_u)
    zb = u_to_z_moments(batch_u, m_u, s_u) if batch_u.shape[0] else batch_u
    sigma = np.asarray(stats.frame_scale, dtype=float)
    return ShellMoments(
        moments=z,
        batch_moments=zb,
        batch_counts=counts,
        count=int(stats.count),
        mean=analysis_offset(stats, d0) + sigma * m_u,
        scale=np.where(det, 0.0, sigma * s_u),
        z_lo=np.where(det, 0.0, (np.asarray(stats.u_min, dtype=float) - m_u) / s_u),
        z_hi=np.where(det, 0.0, (np.asarray(stats.u_max, dtype=float) - m_u) / s_u),
        data_lo=np.where(det, 0.0, (data[0] - m_u) / s_u),
        data_hi=np.where(det, 0.0, (data[1] - m_u) / s_u),
        deterministic=det,
        truncated=truncated,
        source=source,
    )


N_EXTENDED = 33
"""Moments up to p = 32 are provided; those beyond the power sums (p > 24, needed only by the
sandwich covariance at K = 8) come from the histogram."""


def _histogram_u_moments(stats: ShellStats, n_powers: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin-centre moments of u (N_D, n_powers) and in-range counts (N_D,)."""
    edges = np.asarray(stats.hist_edges, dtype=float)
    counts = np.asarray(stats.hist_counts, dtype=float)
    centres = 0.5 * (edges[:, 1:] + edges[:, :-1])
    n_in = counts.sum(axis=1)
    powers = centres[..., None] ** np.arange(n_powers)
    return np.einsum("jb,jbp->jp", counts, powers) / np.maximum(n_in, 1.0)[:, None], n_in


def _from_power_sums(stats: ShellStats, d0: np.ndarray) -> ShellMoments:
    ps = np.asarray(stats.power_sums, dtype=float)  # (n_batch, N_D, P)
    counts = ps[:, 0, 0]
    if np.any(counts <= 0):
        raise ArchiveError(f"shell α={stats.alpha:g}: a batch has no samples in its power sums")
    pooled = ps.sum(axis=0) / counts.sum()
    if stats.hist_counts is not None and np.sum(stats.hist_counts) > 0:
        tail, _ = _histogram_u_moments(stats, N_EXTENDED)
        pooled = np.concatenate([pooled, tail[:, pooled.shape[1]:]], axis=1)
    m_u = pooled[:, 1]
    s_u = np.sqrt(np.clip(pooled[:, 2] - m_u**2, 0.0, None))
    batch = ps / counts[:, None, None]
    data = (np.asarray(stats.u_min, dtype=float), np.asarray(stats.u_max, dtype=float))
    return _finish(stats, d0, pooled, batch, counts, m_u, s_u, data, False, "power_sums")


def _from_histogram(stats: ShellStats, d0: np.ndarray) -> ShellMoments:
    u_mom, n_in = _histogram_u_moments(stats, N_EXTENDED)
    edges = np.asarray(stats.hist_edges, dtype=float)
    counts = np.asarray(stats.hist_counts, dtype=float)
    # exact mean and variance of u from the shell's streaming mean and covariance
    sigma = np.asarray(stats.frame_scale, dtype=float)
    r = stats.frame_rotation
    m_u = r.T @ (stats.mean - stats.frame_mean) / sigma
    s_u = np.sqrt(np.clip(np.einsum("kj,kl,lj->j", r, stats.cov, r), 0.0, None)) / sigma
    u_lo, u_hi = occupied_range(counts, edges)
    dropped = np.asarray(stats.hist_under) + np.asarray(stats.hist_over)
    truncated = bool(np.any(dropped > 0)) or bool(np.any(n_in < stats.count))
    return _finish(stats, d0, u_mom, np.zeros((0,) + u_mom.shape), np.zeros(0), m_u, s_u,
                   (u_lo, u_hi), truncated, "histogram")
