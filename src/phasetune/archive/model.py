"""In-memory data model of a D-DOS campaign: what the archive stores and the estimator reads.

Shapes use N = atoms in the cell, N_D = descriptor components (SNAP bispectrum components without
the constant, followed by any fixed θ-independent components such as E_ZBL/N), n = stable modes.
Units: eV, Å, amu.  Descriptors D are per-atom averages.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

N_POWERS = 25
"""Power sums Σu^p are kept for p = 0 … N_POWERS − 1."""
N_BINS = 200
"""Histogram bins over [−HIST_RANGE, +HIST_RANGE] in frame-standardised units."""
HIST_RANGE = 8.0


@dataclass
class Reference:
    """Reference lattice and harmonic modes of one (phase, volume).

    Attributes:
        phase: phase name, e.g. ``"bcc"``.
        n_atoms: N.
        mass: atomic mass, amu.
        volume: volume per atom, Å³.
        cell: (3, 3) cell vectors as rows, Å.
        positions: (N, 3) relaxed lattice X0, Å.
        n_trans: number of primitive cells (translations of the COM term).
        D0: (N_D,) descriptors of X0.
        E0_ref: reference potential energy of X0, eV/atom.
        beta0: constant term β0 of the evaluated linear potential, eV/atom (0 if unknown).
        omega: (n,) stable Hessian eigenvalues ω_l, eV/Å² (zero modes removed).
        n_zero: number of dropped translational modes (3 for a periodic crystal).
        hessian_step: finite-difference step h, Å.
        hessian_residual: max |H − Hᵀ| before symmetrisation, eV/Å².
        eigenvectors: optional (3N, n) stable eigenvectors (columns), for sampling.
    """

    phase: str
    n_atoms: int
    mass: float
    volume: float
    cell: np.ndarray
    positions: np.ndarray
    n_trans: int
    D0: np.ndarray
    E0_ref: float
    omega: np.ndarray
    beta0: float = 0.0
    n_zero: int = 3
    hessian_step: float = 1e-3
    hessian_residual: float = 0.0
    eigenvectors: np.ndarray | None = None

    @property
    def omega_bar(self) -> float:
        """ω̄ = mean ω_l, eV/Å²."""
        return float(np.mean(self.omega))

    @property
    def mean_log_nu(self) -> float:
        """⟨ln ν⟩ = mean ln(ω_l/ω̄) ≤ 0."""
        return float(np.mean(np.log(self.omega / self.omega_bar)))


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


@dataclass
class DescriptorInfo:
    """What the components of D are.

    Attributes:
        kind: ``"snap"`` (or ``"synthetic"`` for test archives).
        params: descriptor hyper-parameters (rcutfac, twojmax, rfac0, …) as a flat dict.
        labels: N_D component names.
        fixed: (N_D,) bool, True for θ-independent components whose coefficient is fixed at 1.
    """

    kind: str
    params: dict
    labels: list[str]
    fixed: np.ndarray

    @property
    def n_components(self) -> int:
        return len(self.labels)


@dataclass
class PhaseVolume:
    """Everything the estimator needs for one (phase, volume): reference and shells."""

    reference: Reference
    shells: list[ShellStats]
    descriptors: DescriptorInfo
    flavour: str = "hessian"
    provenance: dict = field(default_factory=dict)

    @property
    def alphas(self) -> np.ndarray:
        return np.array([s.alpha for s in self.shells])
