"""The reweighting estimator of free-energy differences between parameter sets (method.md §2.6).

Frames X_f (f = 1 … F) sampled with parameters θ0 at temperature T give, for any θ,

    δF(θ) = F(θ) − F(θ0) = −k_BT ln⟨exp(−β[U_θ − U_θ0])⟩_θ0                 (eV, total)

evaluated with log-sum-exp: with ℓ_f = −βΔU_f, δF = −k_BT [ln Σ_f e^{ℓ_f} − ln F].  Its exact
gradient is the reweighted average ∂δF/∂θ = Σ_f w̃_f ∂U_θ/∂θ(X_f) = ⟨∂U_θ/∂θ⟩_θ, with the
normalised weights w̃_f = e^{ℓ_f}/Σ e^{ℓ}; the Kish effective sample size is
n_eff = (Σw)²/Σw² = 1/Σ w̃², reported as the fraction n_eff/F.  Frames are correlated, so the
standard errors come from block averaging (Flyvbjerg–Petersen) of the weight series through the
delta method: σ(δF) = k_BT σ_block(w)/w̄, and σ(∂δF/∂θ) = σ_block(w_f[G_f − ḡ])/w̄.

Frames of an NPT run (constant P, T) give δG(P, T) by the same formula: the PV term does not
depend on θ and cancels.  Per-atom values divide the totals by N.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..constants import KB
from ..errors import EstimatorError
from ..nonlinear.model import DescriptorModel, LinearModel
from ..ti.stats import blocking_errors

DEFAULT_MIN_ESS = 0.5
"""Smallest accepted Kish effective-sample fraction n_eff/F (below it the estimate is refused)."""


class LowEffectiveSampleError(EstimatorError):
    """The frames of θ0 do not cover θ: too few effective samples for a reliable δF."""


@dataclass
class ReweightResult:
    """δF(θ_m) = F(θ_m) − F(θ0) from frames of θ0, for M parameter sets.

    Attributes:
        thetas: (M, P) the parameter sets.
        temperature: K.
        n_atoms: N.
        n_frames: F, the frames used.
        delta_F: (M,) δF per atom, eV/atom (δG at constant pressure).
        sigma: (M,) its standard error (block averaging + delta method), eV/atom.
        gradient: (M, P) ∂δF/∂θ per atom, eV/atom per unit θ (the reweighted ⟨∂U/∂θ⟩_θ / N).
        gradient_sigma: (M, P) its standard error.
        ess: (M,) Kish effective sample size n_eff = (Σw)²/Σw², frames.
        ess_fraction: (M,) n_eff / F.
        min_ess: the threshold on ``ess_fraction``.
        flagged: (M,) True where ``ess_fraction < min_ess`` (only when flags were asked for;
            otherwise such an estimate raises :class:`LowEffectiveSampleError`).
        ensemble: ``"nvt"`` (δF) or ``"npt"`` (δG).
        anchor: the free energy F(θ0) (or ΔG(θ0)) per atom added to give ``F``, or None.
        anchor_sigma: its standard error, eV/atom.
        F: (M,) anchor + δF, eV/atom, or None without an anchor.
        F_sigma: (M,) σ of ``F`` (anchor and δF errors in quadrature), or None.
    """

    thetas: np.ndarray
    temperature: float
    n_atoms: int
    n_frames: int
    delta_F: np.ndarray
    sigma: np.ndarray
    gradient: np.ndarray
    gradient_sigma: np.ndarray
    ess: np.ndarray
    ess_fraction: np.ndarray
    min_ess: float
    flagged: np.ndarray
    ensemble: str = "nvt"
    anchor: float | None = None
    anchor_sigma: float | None = None
    F: np.ndarray | None = None
    F_sigma: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def delta_F_total(self) -> np.ndarray:
        """(M,) δF of the whole cell, eV."""
        return self.delta_F * self.n_atoms

    def with_anchor(self, value: float, sigma: float = 0.0) -> ReweightResult:
        """A copy with ``F = value + δF`` (value: F(θ0) per atom, eV/atom, e.g. from TI)."""
        out = ReweightResult(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        out.anchor, out.anchor_sigma = float(value), float(sigma)
        out.F = value + self.delta_F
        out.F_sigma = np.hypot(sigma, self.sigma)
        return out

    def to_dict(self) -> dict:
        out = {}
        for k in self.__dataclass_fields__:
            v = getattr(self, k)
            out[k] = v.tolist() if isinstance(v, np.ndarray) else v
        out["delta_F_total"] = self.delta_F_total.tolist()
        out["units"] = {"delta_F": "eV/atom", "F": "eV/atom", "gradient": "eV/atom per θ unit",
                        "temperature": "K", "ess": "frames"}
        return out


def _check_inputs(descriptors: np.ndarray, theta0: np.ndarray, thetas: np.ndarray,
                  model: DescriptorModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    b = np.asarray(descriptors, dtype=float)
    if b.ndim != 3 or b.shape[2] != model.n_descriptors:
        raise EstimatorError(f"descriptors have shape {b.shape}, expected (F, N, "
                             f"{model.n_descriptors})",
                             "give the per-atom descriptors of every frame, (frames, atoms, K)")
    if len(b) < 2:
        raise EstimatorError(f"{len(b)} frame(s) cannot give a reweighted estimate",
                             "sample more frames at θ0")
    theta0 = np.asarray(theta0, dtype=float)
    thetas = np.atleast_2d(np.asarray(thetas, dtype=float))
    if theta0.shape != (model.n_params,) or thetas.shape[1:] != (model.n_params,):
        raise EstimatorError(f"θ0 {theta0.shape} and θ {thetas.shape} must have "
                             f"{model.n_params} parameters", "give θ of the model's length")
    if not (np.all(np.isfinite(thetas)) and np.all(np.isfinite(theta0))):
        raise EstimatorError("θ has non-finite values", "check what produced it")
    return b, theta0, thetas


def energy_differences(descriptors: np.ndarray, theta0: np.ndarray, thetas: np.ndarray,
                       model: DescriptorModel, species: np.ndarray | None = None,
                       ) -> tuple[np.ndarray, list[np.ndarray] | np.ndarray]:
    """ΔU_fm = U_θm(X_f) − U_θ0(X_f), (F, M) eV total, and ∂U_θm/∂θ (F, P) per θ_m.

    For :class:`LinearModel` the gradient Σ_i B_i is the same for every θ and is returned once
    as an (F, P) array (and ΔU is one matrix product); otherwise a list of M (F, P) arrays.
    """
    if isinstance(model, LinearModel):
        sums = descriptors.sum(axis=1)
        return sums @ (thetas - theta0).T, sums
    u0 = model.energies(descriptors, theta0, species)
    du, grads = np.empty((len(descriptors), len(thetas))), []
    for m, theta in enumerate(thetas):
        u, g = model.energies_and_gradients(descriptors, theta, species)
        du[:, m] = u - u0
        grads.append(np.asarray(g, dtype=float))
    return du, grads


def reweight(descriptors: np.ndarray, theta0: np.ndarray, thetas: np.ndarray,
             model: DescriptorModel, temperature: float, *, species: np.ndarray | None = None,
             min_ess: float = DEFAULT_MIN_ESS, flags: bool = False,
             ensemble: str = "nvt") -> ReweightResult:
    """δF(θ_m), its gradient, σ and ESS from frames sampled at θ0 (module doc).

    Args:
        descriptors: (F, N, K) per-atom descriptors of the frames (sampled with θ0 at T).
        theta0: (P,) the parameters the frames were sampled with.
        thetas: (M, P) or (P,) parameter sets to evaluate.
        model: the potential as a :class:`~phasetune.nonlinear.model.DescriptorModel`.
        temperature: K.
        species: (N,) element index of each atom, or None (one element).
        min_ess: threshold on the Kish fraction n_eff/F, in [0, 1].
        flags: below the threshold, return the estimate with ``flagged`` set instead of raising.
        ensemble: ``"nvt"`` or ``"npt"`` (labels δF or δG; the formula is the same).

    Raises:
        LowEffectiveSampleError: some θ_m has n_eff/F < ``min_ess`` and ``flags`` is False.
    """
    if not 0.0 <= min_ess <= 1.0:
        raise EstimatorError(f"min_ess {min_ess} is outside [0, 1]",
                             "give the smallest accepted fraction n_eff/F, e.g. 0.5")
    if not temperature > 0:
        raise EstimatorError(f"temperature {temperature} K must be positive")
    b, theta0, thetas = _check_inputs(descriptors, theta0, thetas, model)
    n_frames, n_atoms = b.shape[:2]
    kt = KB * float(temperature)
    du, grads = energy_differences(b, theta0, thetas, model, species)
    logw = -du / kt                                                   # (F, M)
    top = logw.max(axis=0)
    u = np.exp(logw - top)                                            # w_f / max w, (F, M)
    total = u.sum(axis=0)
    lse = top + np.log(total)
    delta = -kt * (lse - np.log(n_frames))                            # (M,) eV total
    wn = u / total                                                    # normalised weights
    ess = 1.0 / np.sum(wn**2, axis=0)
    mean_u = total / n_frames
    sigma = kt * blocking_errors(u) / mean_u
    n_models, n_params = thetas.shape
    gradient, gradient_sigma = np.empty((n_models, n_params)), np.empty((n_models, n_params))
    for m in range(n_models):
        g = grads if isinstance(grads, np.ndarray) else grads[m]
        gradient[m] = wn[:, m] @ g
        gradient_sigma[m] = blocking_errors(u[:, m, None] * (g - gradient[m])) / mean_u[m]
    fraction = ess / n_frames
    flagged = fraction < min_ess
    if flagged.any() and not flags:
        worst = int(np.argmin(fraction))
        raise LowEffectiveSampleError(
            f"reweighting to θ #{worst} is unreliable: effective sample size "
            f"{ess[worst]:.1f} of {n_frames} frames (fraction {fraction[worst]:.3f}) is below "
            f"the threshold {min_ess:g} ({int(flagged.sum())} of {n_models} θ affected)",
            "re-sample frames at a θ closer to the target, or take a smaller step in θ "
            "(or lower --min-ess / ask for flags to accept it)")
    return ReweightResult(
        thetas=thetas, temperature=float(temperature), n_atoms=int(n_atoms),
        n_frames=int(n_frames), delta_F=delta / n_atoms, sigma=sigma / n_atoms,
        gradient=gradient / n_atoms, gradient_sigma=gradient_sigma / n_atoms, ess=ess,
        ess_fraction=fraction, min_ess=float(min_ess), flagged=flagged, ensemble=ensemble)


def cross_phase(result_a: ReweightResult, result_b: ReweightResult, anchor: float,
                anchor_sigma: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """ΔG_AB(θ) = ΔG_AB(θ0) + δG_B(θ) − δG_A(θ) per atom, and its σ, (M,) each.

    Args:
        result_a, result_b: reweighting of phases A and B at the same T (and P) and θ_m.
        anchor: ΔG_AB(θ0) = G_B(θ0) − G_A(θ0), eV/atom (e.g. from two TI runs).
        anchor_sigma: its standard error, eV/atom.
    """
    if abs(result_a.temperature - result_b.temperature) > 1e-9 * result_a.temperature:
        raise EstimatorError(f"phases at different temperatures ({result_a.temperature:g} K, "
                             f"{result_b.temperature:g} K)", "reweight both phases at one T")
    if result_a.thetas.shape != result_b.thetas.shape or \
            not np.allclose(result_a.thetas, result_b.thetas, rtol=0, atol=1e-12):
        raise EstimatorError("the two phases were reweighted to different θ",
                             "give both phases the same parameter sets")
    value = anchor + result_b.delta_F - result_a.delta_F
    sigma = np.sqrt(anchor_sigma**2 + result_a.sigma**2 + result_b.sigma**2)
    return value, sigma
