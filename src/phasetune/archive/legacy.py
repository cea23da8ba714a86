"""Import of the reference implementation's (DescriptorDOS) pickled D-DOS data (method.md §11.7).

Legacy files are pickles: loading them carelessly runs arbitrary code.  :func:`load_pickle`
uses :class:`RestrictedUnpickler`, which admits only numpy arrays, dtypes and scalars (their
reconstruction helpers) on top of the plain pickle types (numbers, strings, bytes, lists, dicts,
tuples); any other global is refused with an :class:`~phasetune.errors.ArchiveError` naming it.

:func:`import_descriptordos` converts a legacy list of per-isosurface dicts into a
:class:`~phasetune.model.PhaseVolume`:

* **Shell labels.**  Legacy τ (harmonic energy U0·τ per atom) → α = ln τ + ln(2U0/ω̄) (§3).
* **Shell statistics.**  count = ``calls``; exact mean ``D_mean`` and covariance ``D_var``; the
  legacy PCA (``cov_evec`` columns, ``cov_eval``, ascending) becomes the frame with μ_f = D_mean and
  σ_f = √eigenvalue; histograms ``cov_counts`` over ``cov_bins`` (rotated, mean-centred) become
  u-histograms.  There are no power sums, so score matching uses the histograms.  The legacy
  histograms dropped the samples outside their range (≈ ±2.5σ, ~1 % of samples): the importer keeps
  count = calls, which marks the data as truncated, and the fit adds the boundary term.
* **Spectrum.**  Only ω̄ and ⟨ln ν⟩ are stored, not the eigenvalues.  The HarmonicReference gets a
  *synthetic* spectrum of 3N − 3 modes, ω_l = ω̄ e^{c + σ g_l} with g_l the standard-normal
  quantiles at (l + ½)/n, and c, σ solved so that mean ω = ω̄ and mean ln(ω/ω̄) = ⟨ln ν⟩ exactly.
  The estimator uses only ω̄, ⟨ln ν⟩, n and m, so every free energy is unaffected; do not use the
  synthetic eigenvalues for anything else (provenance records this).
* **Support.**  The histograms are the only data, so by default the entropy's support is their
  range; ``support="sampled"`` widens it to the range the samples covered (estimated).
* **Strain offset.**  These data were sampled around unstrained positions in a strained box
  (§4.4, §11.1).  The offset is kept as data in the provenance: the static reference-energy offset
  (shell-mean energy extrapolated to τ → 0) and the descriptor offset δD = lim_{τ→0} D_mean − D0.
  With ``recentre=True`` the shells are shifted by −δD (a first-order correction: samples then
  centre on D0); the default keeps the data as published.  The default is also the consistent
  choice for free energies: the mis-centring adds a term linear in the displacement, whose
  within-shell variance (N·Var(θ·D|α)/(2k_BT_α) → 9.7 meV/atom BCC, 2.5 meV/atom FCC as τ → 0
  for θ = X_Fe) makes the tilt give back ≈ the relaxation energy, cancelling the static offset
  (11.0, 2.7 meV/atom).  ``recentre=True`` removes the offset from the means but not that
  variance, so it counts the relaxation energy twice (F lower by ≈ the offset; X_Fe BCC–FCC T_c
  1955 K → 2233 K).  The same linear term is why θ = X_Fe tilts single PCA components by up to
  ≈ 4σ at 1000 K (15σ at 100 K), beyond the ±2.5σ histograms: the score route clamps there.
"""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtri

from ..errors import ArchiveError
from ..model import N_POWERS, DescriptorInfo, HarmonicReference, PhaseVolume, ShellStats
from .frame import ZERO_VARIANCE, occupied_range

ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "scalar"),
})
"""The only globals a legacy pickle may reference (numpy array and scalar reconstruction)."""

REQUIRED_KEYS = ("cov_eval", "cov_evec", "cov_counts", "cov_bins", "D_mean", "D_var", "calls",
                 "IsoSurface", "N", "mass", "D_0", "V_0", "C_0", "x_0", "E_0", "log_det", "U_0",
                 "omega_mean")


class RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only :data:`ALLOWED_GLOBALS`."""

    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise ArchiveError(
            f"refusing to unpickle global '{module}.{name}': legacy D-DOS files may contain only "
            "numpy arrays, numbers, strings, lists, tuples and dicts",
            "this file is not a plain DescriptorDOS data file; do not load it with pickle",
        )

    def persistent_load(self, pid):
        raise ArchiveError(f"refusing persistent id {pid!r} in a legacy pickle")


def load_pickle(path: str | Path):
    """Load a legacy pickle through :class:`RestrictedUnpickler`."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return RestrictedUnpickler(fh).load()
    except ArchiveError:
        raise
    except FileNotFoundError as exc:
        raise ArchiveError(f"legacy file not found: {path}") from exc
    except Exception as exc:  # malformed pickle data
        raise ArchiveError(f"{path}: not a readable legacy pickle ({exc})") from exc


def synthetic_spectrum(omega_bar: float, mean_log_nu: float, n_modes: int) -> np.ndarray:
    """(n_modes,) eigenvalues with mean ω̄ and mean ln(ω/ω̄) = ⟨ln ν⟩ (≤ 0), log-normal quantiles.

    ω_l = ω̄ exp(⟨ln ν⟩ + σ g_l), g_l = Φ⁻¹((l + ½)/n) (Σ g_l = 0), σ ≥ 0 solving mean ω = ω̄.
    """
    if mean_log_nu > 0:
        raise ArchiveError(f"⟨ln ν⟩ = {mean_log_nu} > 0 is impossible (Jensen)")
    g = ndtri((np.arange(n_modes) + 0.5) / n_modes)
    g -= g.mean()
    if mean_log_nu == 0:
        return np.full(n_modes, float(omega_bar))

    def excess(sigma: float) -> float:
        return np.log(np.mean(np.exp(sigma * g))) + mean_log_nu

    hi = 1.0
    while excess(hi) < 0:
        hi *= 2.0
    sigma = brentq(excess, 0.0, hi, xtol=1e-15, rtol=1e-15)
    nu = np.exp(mean_log_nu + sigma * g)
    return omega_bar * nu / nu.mean()


def _check(data, path) -> list[dict]:
    if not isinstance(data, list) or not data or not all(isinstance(d, dict) for d in data):
        raise ArchiveError(f"{path}: expected a list of per-isosurface dicts")
    for i, d in enumerate(data):
        missing = [k for k in REQUIRED_KEYS if k not in d]
        if missing:
            raise ArchiveError(f"{path}: isosurface {i} lacks keys {missing}")
    flavours = {str(d.get("flavor", "Hessian")) for d in data}
    if flavours != {"Hessian"}:
        raise ArchiveError(f"{path}: only Hessian isosurfaces can be imported, got {flavours}")
    for key in ("N", "mass", "omega_mean", "log_det", "U_0", "V_0"):
        values = {float(d[key]) for d in data}
        if max(values) - min(values) > 1e-9 * max(1.0, max(abs(v) for v in values)):
            raise ArchiveError(f"{path}: {key} differs between isosurfaces (one volume only)")
    return sorted(data, key=lambda d: float(d["IsoSurface"]))


def _shell(d: dict, alpha: float, shift: np.ndarray, support: str) -> ShellStats:
    evals = np.asarray(d["cov_eval"], dtype=float)
    evecs = np.asarray(d["cov_evec"], dtype=float)
    counts = np.asarray(d["cov_counts"], dtype=np.int64)
    bins = np.asarray(d["cov_bins"], dtype=float)
    n_d = evals.size
    deterministic = evals <= ZERO_VARIANCE * evals.max()
    scale = np.where(deterministic, 1.0, np.sqrt(np.clip(evals, 0.0, None)))
    edges = bins / scale[:, None]
    u_min, u_max = occupied_range(counts, edges)
    if support == "sampled":
        # expected extremes of `calls` samples of a unit-variance component
        extreme = ndtri(int(d["calls"]) / (int(d["calls"]) + 1.0))
        u_min, u_max = np.minimum(u_min, -extreme), np.maximum(u_max, extreme)
    mean = np.asarray(d["D_mean"], dtype=float) - shift
    return ShellStats(
        alpha=alpha, count=int(d["calls"]), mean=mean, cov=np.asarray(d["D_var"], dtype=float),
        frame_mean=mean.copy(), frame_rotation=evecs, frame_eigenvalues=evals,
        frame_scale=scale, power_sums=np.zeros((0, n_d, N_POWERS)),
        batch_ids=np.zeros(0, dtype=np.int64), hist_counts=counts, hist_edges=edges,
        hist_under=np.zeros(n_d, dtype=np.int64), hist_over=np.zeros(n_d, dtype=np.int64),
        u_min=u_min, u_max=u_max,
        energy_mean=float(d.get("E_mean", np.nan)),
    )


def _extrapolate_to_zero(tau: np.ndarray, values: np.ndarray, n_fit: int = 5) -> np.ndarray:
    """Quadratic least-squares extrapolation of values(τ) (n, …) to τ = 0 from the lowest τ."""
    design = np.vander(tau[:n_fit], 3, increasing=True)
    coef = np.linalg.lstsq(design, values[:n_fit].reshape(n_fit, -1), rcond=None)[0]
    return coef[0].reshape(values.shape[1:])


def import_descriptordos(path: str | Path, *, phase: str | None = None,
                         n_trans: int | None = None, snapparam: str | Path | None = None,
                         recentre: bool = False, support: str = "histogram") -> PhaseVolume:
    """Convert a DescriptorDOS pickle (one phase, one volume) into a PhaseVolume.

    Args:
        path: the ``*.pkl`` file.
        phase: phase name (default: guessed from the file name, e.g. ``"bcc"``).
        n_trans: primitive cells of the COM term (default N: one atom per primitive cell).
        snapparam: optional ``.snapparam`` giving descriptor hyper-parameters and labels.
        recentre: shift the shells by −δD so that samples centre on D0 (see module docstring).
        support: ``"histogram"`` (default): the entropy's support is the histogram range, the
            only range with data (tilts beyond it are clamped and flagged); ``"sampled"``: the
            range the legacy samples actually covered, estimated as ±Φ⁻¹(n/(n+1)) standard
            deviations (the score model is then extrapolated beyond the histogram range).
    """
    if support not in ("histogram", "sampled"):
        raise ArchiveError(f"unknown support {support!r}", "use 'histogram' or 'sampled'")
    path = Path(path)
    data = _check(load_pickle(path), path)
    d0 = data[0]
    n_atoms = int(d0["N"])
    omega_bar, mean_log_nu = float(d0["omega_mean"]), float(d0["log_det"])
    u0 = float(d0["U_0"])
    tau = np.array([float(d["IsoSurface"]) for d in data])
    alphas = np.log(tau) + np.log(2.0 * u0 / omega_bar)
    if "alpha_shift" in d0 and abs(float(d0["alpha_shift"]) - np.log(omega_bar / (2 * u0))) > 1e-9:
        raise ArchiveError(f"{path}: alpha_shift disagrees with ln(ω̄/2U0)")
    D0 = np.asarray(d0["D_0"], dtype=float)
    means = np.array([np.asarray(d["D_mean"], dtype=float) for d in data])
    delta_d = _extrapolate_to_zero(tau, means) - D0
    e_mean = np.array([float(d.get("E_mean", np.nan)) for d in data])
    shift = delta_d if recentre else np.zeros_like(D0)
    shells = [_shell(d, float(a), shift, support) for d, a in zip(data, alphas, strict=True)]
    n_d = D0.size
    params: dict = {}
    labels = [f"B{k}" for k in range(n_d)]
    if snapparam is not None:
        from ..potentials.snap_files import SnapParams, bispectrum_labels

        sp = SnapParams.read(snapparam)
        params = dict(sp.values)
        if len(bispectrum_labels(sp.twojmax)) == n_d:
            labels = bispectrum_labels(sp.twojmax)
    guess = next((p for p in ("bcc", "fcc", "hcp", "a15") if p in path.name.lower()), "unknown")
    ref = HarmonicReference(
        phase=phase or guess, n_atoms=n_atoms, mass=float(d0["mass"]),
        volume=float(d0["V_0"]) / n_atoms, cell=np.asarray(d0["C_0"], dtype=float),
        positions=np.asarray(d0["x_0"], dtype=float).reshape(n_atoms, 3),
        n_trans=int(n_trans or n_atoms), D0=D0, E0=float(d0["E_0"]),
        omega=synthetic_spectrum(omega_bar, mean_log_nu, 3 * n_atoms - 3),
    )
    dropped = [int(d["calls"]) - int(np.asarray(d["cov_counts"]).sum(axis=1).min()) for d in data]
    provenance = {
        "source": "DescriptorDOS pickle", "file": str(path),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "legacy_tau": tau.tolist(), "U_0": u0, "strain": float(d0.get("Strain", np.nan)),
        "static_energy_offset": float(_extrapolate_to_zero(tau, e_mean[:, None])[0]),
        "strain_descriptor_offset": delta_d.tolist(), "recentred": bool(recentre),
        "support": support,
        "synthetic_spectrum": "log-normal quantile spectrum matching omega_bar and <ln nu>; "
                              "not the real eigenvalues",
        "histogram_dropped_samples_max": max(dropped),
        "F_A": float(d0.get("F_A", np.nan)), "F_B": float(d0.get("F_B", np.nan)),
    }
    info = DescriptorInfo("snap", params, labels, np.zeros(n_d, dtype=bool))
    return PhaseVolume(ref, shells, info, flavour="hessian", provenance=provenance)
