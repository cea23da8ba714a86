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
        inv_kinetic: kinetic flavour (method.md §4.5): (n_batch, 3) per merged batch, in
            ``batch_ids`` order, [samples, Σ 1/k, Σ (1/k)²] with k the kinetic energy per atom
            (eV/atom) of each sample; None for Hessian shells and for kinetic archives that
            predate it.  ⟨1/K⟩ = ⟨1/k⟩/N gives the microcanonical β(E) = (d_K/2 − 1)⟨1/K⟩_E.
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
    inv_kinetic: np.ndarray | None = None
    raw: np.ndarray | None = None


def inverse_kinetic_mean(stats: ShellStats) -> tuple[float, float]:
    """(⟨1/k⟩, its variance) of a kinetic shell, (eV/atom)⁻¹ and its square.

    The variance of the mean is the larger of the naive one (independent samples) and the
    between-batch one (Σ_b n_b²(m_b − m)²/n² · n_b/(n_b − 1), correlated samples within a batch),
    the latter only with ≥ 3 batches.  Raises ValueError when the shell has no record."""
    rows = None if stats.inv_kinetic is None else np.asarray(stats.inv_kinetic, dtype=float)
    if rows is None or rows.ndim != 2 or rows.shape[1] != 3 or rows[:, 0].sum() < 2:
        raise ValueError(f"shell α={stats.alpha:g} has no ⟨1/k⟩ record")
    n = rows[:, 0].sum()
    mean = rows[:, 1].sum() / n
    var = max(rows[:, 2].sum() - n * mean * mean, 0.0) / (n - 1) / n
    nb = int(np.count_nonzero(rows[:, 0]))
    if nb >= 3:
        ok = rows[:, 0] > 0
        m_b = rows[ok, 1] / rows[ok, 0]
        var_b = float(np.sum(rows[ok, 0] ** 2 * (m_b - mean) ** 2)) / n**2 * nb / (nb - 1)
        var = max(var, var_b)
    return float(mean), float(var)


def shells_have_raw(shells: list[ShellStats]) -> bool:
    """True when every shell kept its raw descriptors (``store_raw``), at least two rows each."""
    return all(s.raw is not None and len(s.raw) > 1 for s in shells)
