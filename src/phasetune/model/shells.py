"""Compressed descriptor statistics of one isosurface (shell) of a campaign (method.md §5).

Shapes use N_D = descriptor components.  Descriptors D are per-atom averages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_POWERS = 25
"""Power sums Σu^p are kept for p = 0 … N_POWERS − 1."""
N_BINS = 200
"""Histogram bins over [−HIST_RANGE, +HIST_RANGE] in frame-standardised units."""
HIST_RANGE = 8.0


@dataclass
class ShellStats:
    """Compressed statistics of descriptors sampled on one isosurface (shell) α.

    The frame (μ_f, R_f, σ_f) is fixed by the first batch; u = R_fᵀ(D − μ_f)/σ_f are the
    standardised frame coordinates and x = R_fᵀ(μ_f − D0) + σ_f⊙u the analysis coordinates.

    Attributes:
        alpha: shell label α, e^α = |y|²/N in Å² (per atom).
        count: number of samples n.
        mean: (N_D,) exact streaming mean of D.
        cov: (N_D, N_D) covariance of D across samples (not multiplied by N).
        frame_mean: (N_D,) μ_f.
        frame_rotation: (N_D, N_D) R_f, columns are principal axes.
        frame_eigenvalues: (N_D,) eigenvalues of the pilot covariance.
        frame_scale: (N_D,) σ_f (> 0; 1 for zero-variance components).
        power_sums: (n_batch, N_D, N_POWERS) M[b, j, p] = Σ_s u_sj^p.
        batch_ids: (n_batch,) integer ids of merged batches (prevent double merging).
        hist_counts: (N_D, n_bins) counts of u per bin.
        hist_edges: (N_D, n_bins + 1) bin edges in u units (uniform over ±HIST_RANGE with
            N_BINS bins for phasetune campaigns; imported data may differ).
        hist_under: (N_D,) counts below the histogram range.
        hist_over: (N_D,) counts above the histogram range.
        u_min: (N_D,) smallest u seen per component.
        u_max: (N_D,) largest u seen per component.
        energy_mean: mean reference energy above E0_ref on the shell, eV/atom (NaN if unknown).
        energy_var: its variance, (eV/atom)².
        raw: optional (n, N_D) raw descriptors.
    """

    alpha: float
    count: int
    mean: np.ndarray
    cov: np.ndarray
    frame_mean: np.ndarray
    frame_rotation: np.ndarray
    frame_eigenvalues: np.ndarray
    frame_scale: np.ndarray
    power_sums: np.ndarray
    batch_ids: np.ndarray
    hist_counts: np.ndarray
    hist_edges: np.ndarray
    hist_under: np.ndarray
    hist_over: np.ndarray
    u_min: np.ndarray
    u_max: np.ndarray
    energy_mean: float = float("nan")
    energy_var: float = float("nan")
    raw: np.ndarray | None = None
