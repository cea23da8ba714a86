"""Conditional score matching per shell α and frame component j (method.md §6).

Model ℓ(z) = Σ_{k=1..K} a_k He_k(z) on the standardised coordinate z = (x − m_j)/s_j; Hyvärinen
fit (A + λ diag(A)) a = −b from exact moments (§6.3); degree K fixed or chosen per component by
the held-out objective over batches (§6.2); sandwich covariance Cov(â) = A⁻¹Cov(g)A⁻¹/n_eff
(§6.6) with a bootstrap over batches as a cross-check.  The entropy S_j follows in
:mod:`.entropy`.

Truncated data (legacy histograms that dropped their tails) violate the boundary condition of
Hyvärinen's integration by parts; the exact objective on [a, b] gains −[p ℓ′]_a^b, which is added
with p at the edges taken from the current model (a few fixed-point iterations).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

import numpy as np

from ..errors import PhasetuneError
from ..model import ShellStats
from .hermite import estimating_function_covariance, hermite_values, score_normal_equations
from .moments import ShellMoments, shell_moments

FIT_VERSION = "1"
"""Bump when a change alters fitted numbers; stored with every fit to detect stale fits."""
DEFAULT_DEGREE = 4
MIN_DEGREE, MAX_DEGREE = 2, 8
DEFAULT_RIDGE = 1e-7
"""λ of the scale-free ridge λ·diag(A) (method.md §6.3)."""
N_FOLDS = 5
BOUNDARY_ITERATIONS = 8

Degree = int | str


@dataclass(frozen=True)
class ComponentFit:
    """Score model of one (shell, component): ℓ(z) = Σ_k coef[k−1] He_k(z), z = (x − mean)/scale.

    ``cov`` is Cov(â) (K×K); ``z_lo``/``z_hi`` the support; a deterministic component has
    degree 0 and sits at x = mean.
    """

    degree: int
    coef: np.ndarray
    cov: np.ndarray
    mean: float
    scale: float
    z_lo: float
    z_hi: float
    deterministic: bool

    def log_density(self, z: np.ndarray) -> np.ndarray:
        """ℓ(z) (unnormalised), any shape."""
        return hermite_values(z, self.degree)[..., 1:] @ self.coef


@dataclass
class ShellFit:
    """Score fits of all N_D frame components of one shell (arrays padded to ``K_max``).

    Attributes:
        alpha: shell label α.
        n_atoms: N, converting ℓ to the per-atom entropy S = ℓ/N.
        degree: (N_D,) K per component (0 = deterministic).
        coef: (N_D, K_max) a_1 … a_K, zero padded.
        cov: (N_D, K_max, K_max) Cov(â), zero padded.
        mean, scale: (N_D,) m_j and s_j in analysis coordinates x (descriptor units).
        z_lo, z_hi: (N_D,) support in z.
        deterministic: (N_D,) bool.
        n_eff: (N_D,) effective sample counts used in Cov(â).
        rotation: (N_D, N_D) frame R_f (columns = components).
        truncated: data had dropped tails (boundary-corrected fit).
        source: ``"power_sums"`` or ``"histogram"``.
        held_out: (N_D, n_candidates) held-out objective per candidate degree (auto only).
        input_hash: SHA-256 of the inputs and settings (see :func:`fit_hash`).
    """

    alpha: float
    n_atoms: int
    degree: np.ndarray
    coef: np.ndarray
    cov: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    z_lo: np.ndarray
    z_hi: np.ndarray
    deterministic: np.ndarray
    n_eff: np.ndarray
    rotation: np.ndarray
    truncated: bool
    source: str
    held_out: np.ndarray | None = None
    input_hash: str = ""
    version: str = FIT_VERSION

    @property
    def n_components(self) -> int:
        return len(self.degree)

    def component(self, j: int) -> ComponentFit:
        k = int(self.degree[j])
        return ComponentFit(k, self.coef[j, :k].copy(), self.cov[j, :k, :k].copy(),
                            float(self.mean[j]), float(self.scale[j]), float(self.z_lo[j]),
                            float(self.z_hi[j]), bool(self.deterministic[j]))


@dataclass
class PhaseVolumeFit:
    """Fits of every shell of one (phase, volume), with the settings that produced them."""

    shells: list[ShellFit]
    degree: Degree
    ridge: float
    input_hash: str
    version: str = FIT_VERSION
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """Plain dict of arrays and scalars (for storing next to the archive)."""
        return {"degree": str(self.degree), "ridge": self.ridge, "input_hash": self.input_hash,
                "version": self.version, "notes": list(self.notes),
                "shells": [dataclasses.asdict(s) for s in self.shells]}

    @classmethod
    def from_dict(cls, data: dict) -> PhaseVolumeFit:
        degree = data["degree"]
        return cls([ShellFit(**s) for s in data["shells"]],
                   degree if degree == "auto" else int(degree), float(data["ridge"]),
                   data["input_hash"], data["version"], list(data.get("notes", [])))

    def is_stale(self, phase_volume, degree: Degree | None = None,
                 ridge: float | None = None) -> bool:
        """True if ``phase_volume`` (or other settings) would not reproduce this fit."""
        return self.version != FIT_VERSION or self.input_hash != phase_volume_hash(
            phase_volume, self.degree if degree is None else degree,
            self.ridge if ridge is None else ridge)


# ----------------------------------------------------------------------------------------------
# hashing


def fit_hash(stats: ShellStats, d0: np.ndarray, n_atoms: int, degree: Degree,
             ridge: float) -> str:
    """SHA-256 of everything a shell fit depends on (data, D0, N, degree, ridge, FIT_VERSION)."""
    h = hashlib.sha256()
    h.update(f"{FIT_VERSION}|{degree}|{ridge!r}|{n_atoms}|{stats.alpha!r}|{stats.count}".encode())
    for arr in (d0, stats.mean, stats.cov, stats.frame_mean, stats.frame_rotation,
                stats.frame_eigenvalues, stats.frame_scale, stats.power_sums, stats.batch_ids,
                stats.hist_counts, stats.hist_edges, stats.hist_under, stats.hist_over,
                stats.u_min, stats.u_max):
        a = np.ascontiguousarray(np.asarray(arr, dtype=float))
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def phase_volume_hash(phase_volume, degree: Degree, ridge: float) -> str:
    """Combined hash of all shells of a PhaseVolume (order-sensitive)."""
    ref = phase_volume.reference
    h = hashlib.sha256()
    for stats in sorted(phase_volume.shells, key=lambda s: s.alpha):
        h.update(fit_hash(stats, ref.D0, ref.n_atoms, degree, ridge).encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# the fit


def _check_degree(degree: Degree) -> None:
    if degree == "auto":
        return
    if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or not (
        MIN_DEGREE <= degree <= MAX_DEGREE
    ):
        raise PhasetuneError(f"score degree must be an integer in [{MIN_DEGREE}, {MAX_DEGREE}] "
                             f"or 'auto', got {degree!r}")


def solve_score(moments: np.ndarray, degree: int, ridge: float = DEFAULT_RIDGE,
                boundary: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hyvärinen solution (A + λ diag A) a = −(b − B) for stacked components.

    Args:
        moments: (..., P) E[z^p].
        degree: K.
        ridge: λ.
        boundary: optional (..., K) boundary term B_k = [p He′_k]_a^b of truncated data.

    Returns:
        a (..., K) and the regularised A (..., K, K).
    """
    a_mat, b = score_normal_equations(moments, degree)
    idx = np.arange(degree)
    a_mat[..., idx, idx] *= 1.0 + ridge
    if boundary is not None:
        b = b - boundary
    return np.linalg.solve(a_mat, -b[..., None])[..., 0], a_mat


def _edge_density(coef: np.ndarray, z_lo: np.ndarray, z_hi: np.ndarray, n: int = 401):
    """Model density p = e^ℓ / ∫_{z_lo}^{z_hi} e^ℓ at both edges; coef (m, K)."""
    t = np.linspace(0.0, 1.0, n)
    z = z_lo[:, None] + (z_hi - z_lo)[:, None] * t
    ell = np.einsum("mgk,mk->mg", hermite_values(z, coef.shape[1])[..., 1:], coef)
    ell -= ell.max(axis=1, keepdims=True)
    w = np.exp(ell)
    norm = np.trapezoid(w, z, axis=1)
    return w[:, 0] / norm, w[:, -1] / norm


def _boundary_term(coef, z_lo, z_hi):
    p_lo, p_hi = _edge_density(coef, z_lo, z_hi)
    k = coef.shape[1]
    d_lo = hermite_values(z_lo, k, deriv=1)[:, 1:]
    d_hi = hermite_values(z_hi, k, deriv=1)[:, 1:]
    return p_hi[:, None] * d_hi - p_lo[:, None] * d_lo


def _fit_group(moments, z_lo, z_hi, degree, ridge, truncated):
    coef, a_mat = solve_score(moments, degree, ridge)
    if truncated:
        for _ in range(BOUNDARY_ITERATIONS):
            coef, a_mat = solve_score(moments, degree, ridge, _boundary_term(coef, z_lo, z_hi))
    return coef, a_mat


def sandwich_covariance(moments: np.ndarray, coef: np.ndarray, a_mat: np.ndarray,
                        n_eff: np.ndarray) -> np.ndarray:
    """Cov(â) = A⁻¹ Cov(g) A⁻¹ / n_eff (method.md §6.6); moments need p ≤ 4K − 4."""
    need = 4 * coef.shape[-1] - 3
    if moments.shape[-1] < need:
        raise PhasetuneError(f"the sandwich covariance at K={coef.shape[-1]} needs moments up to "
                             f"order {need - 1}, only {moments.shape[-1] - 1} available")
    cov_g = estimating_function_covariance(moments[..., :need], coef)
    inv = np.linalg.inv(a_mat)
    out = inv @ cov_g @ np.swapaxes(inv, -1, -2) / np.asarray(n_eff, dtype=float)[..., None, None]
    return 0.5 * (out + np.swapaxes(out, -1, -2))


def held_out_objective(sm: ShellMoments, candidates, ridge: float) -> np.ndarray | None:
    """(n_folds, N_D, n_candidates) held-out Hyvärinen objective J = ½aᵀA_test a + b_testᵀa per
    fold, the folds being whole batches (round robin); None with fewer than 2 batches."""
    n_batch = sm.batch_moments.shape[0]
    if n_batch < 2:
        return None
    n_folds = min(N_FOLDS, n_batch)
    fold = np.arange(n_batch) % n_folds
    out = np.zeros((n_folds, sm.moments.shape[0], len(candidates)))
    weighted = sm.batch_moments * sm.batch_counts[:, None, None]
    for f in range(n_folds):
        test, train = fold == f, fold != f
        m_train = weighted[train].sum(0) / sm.batch_counts[train].sum()
        m_test = weighted[test].sum(0) / sm.batch_counts[test].sum()
        for c, k in enumerate(candidates):
            coef, _ = solve_score(m_train, k, ridge)
            a_test, b_test = score_normal_equations(m_test, k)
            quad = 0.5 * np.einsum("jk,jkl,jl->j", coef, a_test, coef)
            out[f, :, c] = quad + np.einsum("jk,jk->j", b_test, coef)
    return out


def choose_degree(per_fold: np.ndarray, candidates) -> np.ndarray:
    """One-standard-error rule: the smallest K whose mean held-out objective is within one SE
    (of the fold-wise difference) of the best.  per_fold (n_folds, N_D, n_candidates)."""
    mean = per_fold.mean(axis=0)
    best = np.argmin(mean, axis=1)
    rows = np.arange(mean.shape[0])
    diff = per_fold - per_fold[:, rows, best][:, :, None]
    se = diff.std(axis=0, ddof=1) / np.sqrt(per_fold.shape[0]) if per_fold.shape[0] > 1 else 0.0
    ok = mean <= mean[rows, best][:, None] + se
    return np.asarray(candidates)[np.argmax(ok, axis=1)]


def _n_eff(sm: ShellMoments, flavour: str) -> np.ndarray:
    """n for independent (Hessian) samples; from the variance of batch means otherwise."""
    n = np.full(sm.moments.shape[0], float(sm.count))
    if flavour == "hessian" or sm.batch_moments.shape[0] < 4:
        return n
    zbar = sm.batch_moments[:, :, 1]
    var_means = np.average((zbar - np.average(zbar, axis=0, weights=sm.batch_counts)) ** 2,
                           axis=0, weights=sm.batch_counts) * sm.batch_counts.mean()
    return np.minimum(n, n / np.maximum(var_means, 1e-300))


def fit_shell(stats: ShellStats, d0: np.ndarray, n_atoms: int, degree: Degree = DEFAULT_DEGREE,
              ridge: float = DEFAULT_RIDGE, flavour: str = "hessian") -> ShellFit:
    """Score-match every frame component of one shell (method.md §6).

    Args:
        stats: the shell's compressed statistics.
        d0: (N_D,) lattice descriptors D0 (origin of the analysis coordinates).
        n_atoms: N.
        degree: K in [2, 8] for all components, or ``"auto"`` (held-out objective per
            component; falls back to DEFAULT_DEGREE without ≥ 2 batches).
        ridge: λ of the scale-free ridge.
        flavour: sampler flavour; ``"hessian"`` samples are independent (n_eff = n).
    """
    _check_degree(degree)
    sm = shell_moments(stats, d0)
    n_d = sm.moments.shape[0]
    candidates = list(range(MIN_DEGREE, MAX_DEGREE + 1))
    held = None
    if degree == "auto":
        per_fold = held_out_objective(sm, candidates, ridge)
        degrees = (np.full(n_d, DEFAULT_DEGREE) if per_fold is None
                   else choose_degree(per_fold, candidates))
        held = None if per_fold is None else per_fold.mean(axis=0)
    else:
        degrees = np.full(n_d, int(degree))
    degrees = np.where(sm.deterministic, 0, degrees)
    k_max = max(int(degrees.max()), 1)
    coef = np.zeros((n_d, k_max))
    cov = np.zeros((n_d, k_max, k_max))
    n_eff = _n_eff(sm, flavour)
    for k in np.unique(degrees[degrees > 0]):
        sel = degrees == k
        c, a_mat = _fit_group(sm.moments[sel], sm.data_lo[sel], sm.data_hi[sel], int(k), ridge,
                              sm.truncated)
        coef[sel, :k] = c
        cov[sel, :k, :k] = sandwich_covariance(sm.moments[sel], c, a_mat, n_eff[sel])
    return ShellFit(
        alpha=float(stats.alpha), n_atoms=int(n_atoms), degree=degrees, coef=coef, cov=cov,
        mean=sm.mean, scale=sm.scale, z_lo=sm.z_lo, z_hi=sm.z_hi, deterministic=sm.deterministic,
        n_eff=n_eff, rotation=np.asarray(stats.frame_rotation, dtype=float),
        truncated=sm.truncated, source=sm.source, held_out=held,
        input_hash=fit_hash(stats, d0, n_atoms, degree, ridge),
    )


def bootstrap_covariance(stats: ShellStats, fit: ShellFit, d0: np.ndarray, n_boot: int = 200,
                         seed: int = 0, ridge: float = DEFAULT_RIDGE) -> np.ndarray:
    """Cov(â) from resampling whole batches with replacement (cross-check of the sandwich).

    Standardisation (m_j, s_j) is held fixed, as in the sandwich.  Returns (N_D, K_max, K_max);
    needs power sums with several batches.
    """
    sm = shell_moments(stats, d0)
    n_batch = sm.batch_moments.shape[0]
    if n_batch < 2:
        raise PhasetuneError("a bootstrap over batches needs at least 2 batches")
    rng = np.random.default_rng(seed)
    draws = np.zeros((n_boot,) + fit.coef.shape)
    weighted = sm.batch_moments * sm.batch_counts[:, None, None]
    for i in range(n_boot):
        pick = rng.integers(0, n_batch, n_batch)
        mom = weighted[pick].sum(0) / sm.batch_counts[pick].sum()
        for k in np.unique(fit.degree[fit.degree > 0]):
            sel = fit.degree == k
            draws[i, sel, :k] = solve_score(mom[sel], int(k), ridge)[0]
    dev = draws - draws.mean(axis=0)
    return np.einsum("bjk,bjl->jkl", dev, dev) / (n_boot - 1)


def fit_phase_volume(phase_volume, degree: Degree = DEFAULT_DEGREE,
                     ridge: float = DEFAULT_RIDGE) -> PhaseVolumeFit:
    """Fit every shell of a :class:`~phasetune.model.PhaseVolume`, in increasing α."""
    ref = phase_volume.reference
    d0 = np.asarray(ref.D0, dtype=float)
    shells = [fit_shell(s, d0, ref.n_atoms, degree, ridge, phase_volume.flavour)
              for s in sorted(phase_volume.shells, key=lambda s: s.alpha)]
    notes = []
    if degree == "auto" and any(s.held_out is None for s in shells):
        notes.append(f"degree 'auto' fell back to K={DEFAULT_DEGREE} on shells with < 2 batches")
    return PhaseVolumeFit(shells, degree, ridge, phase_volume_hash(phase_volume, degree, ridge),
                          notes=notes)
