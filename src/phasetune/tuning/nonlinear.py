"""Fine-tuning a non-linear potential (an ML-IAP nn) to free-energy targets (method.md §8,
"Inverse fine-tuning", and §2.5).

The targets of :mod:`.targets` (ΔF, T_c) only ask each phase for F(θ, T) and ∂F/∂θ; here a phase
answers by one of the non-linear routes:

* :class:`ReweightedPhase` — frames of MD at θ_ref: F(θ) = F(θ_ref) + δF(θ) with the exact
  reweighted gradient; a θ whose Kish effective sample fraction falls below ``min_ess`` is
  *unsolved*, so the Gauss–Newton step of :func:`~.optimizer.fine_tune` is halved until it is
  covered.  :func:`tune_reweighted` then re-samples the frames at the last covered θ (one MD
  run per phase), carries the anchor over (F(θ_new) = F(θ_ref) + δF(θ_new)) and continues: the
  differentiable-trajectory-reweighting loop, in rounds.
* :class:`TangentPhase` — the tangent D-DOS of a ``descriptors.tangent`` archive (exact gradient
  of the linearised model), plus the curvature correction from frames; a θ outside the
  validated range is unsolved.

The regulariser is a metric in function space: ½δθᵀMδθ with M = ⟨g gᵀ⟩/N² over the frames of all
phases (g = ∂E/∂θ of a frame), i.e. the mean squared change of the energy per atom, to first
order, plus a relative ridge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..errors import PhasetuneError
from ..nonlinear.model import DescriptorModel
from ..reweighting.estimator import DEFAULT_MIN_ESS, reweight
from .optimizer import TuneResult, fine_tune

FRAME_T_TOL = 0.5
"""A phase of frames at T answers for temperatures within this many K of T."""


@dataclass
class PhasePrediction:
    """What a target reads of one phase at one (T, θ): (1, 1) arrays, (1, 1, P) for D_star."""

    F_total: np.ndarray
    D_star: np.ndarray
    sigma_F: np.ndarray
    solved: np.ndarray
    notes: list[str] = field(default_factory=list)

    def reasons(self, t: int, m: int) -> list[str]:
        return list(self.notes)


def _one(value: float, gradient: np.ndarray, sigma: float, solved: bool,
         notes: list[str]) -> PhasePrediction:
    return PhasePrediction(np.array([[value]]), np.asarray(gradient, dtype=float)[None, None],
                           np.array([[sigma]]), np.array([[solved]]), notes)


class ReweightedPhase:
    """F(θ, T) per atom of one phase from frames of θ_ref at T (module doc).

    Args:
        name: the phase.
        frames: a :class:`~phasetune.reweighting.store.FrameStore` (per-atom descriptors,
            ``theta0`` = θ_ref, ``temperature``).
        model: the potential's :class:`~phasetune.nonlinear.model.DescriptorModel`.
        anchor: F(θ_ref) per atom, eV/atom (any common constant for ΔF targets).
        anchor_sigma: its standard error, eV/atom.
        min_ess: smallest accepted Kish fraction.
    """

    def __init__(self, name: str, frames, model: DescriptorModel, anchor: float,
                 anchor_sigma: float = 0.0, min_ess: float = DEFAULT_MIN_ESS):
        self.name, self.frames, self.model = name, frames, model
        self.anchor, self.anchor_sigma, self.min_ess = float(anchor), float(anchor_sigma), min_ess
        self.fixed = np.zeros(model.n_params, dtype=bool)

    @property
    def temperature(self) -> float:
        return float(self.frames.temperature)

    def reweighted(self, theta: np.ndarray):
        """The :class:`~phasetune.reweighting.estimator.ReweightResult` of θ (P,), flagged (not
        raised) below ``min_ess``."""
        return reweight(self.frames.descriptors, self.frames.theta0, theta, self.model,
                        self.temperature, min_ess=self.min_ess, flags=True)

    def predict(self, theta, temperatures, *, gradient: bool = True,
                beta0: float | None = None) -> PhasePrediction:
        """F and ∂F/∂θ at the frames' temperature (``temperatures`` must be it)."""
        t = float(np.atleast_1d(temperatures)[0])
        if abs(t - self.temperature) > FRAME_T_TOL:
            raise PhasetuneError(f"phase {self.name}: frames at {self.temperature:g} K cannot "
                                 f"answer for {t:g} K",
                                 "sample frames at the target's temperature")
        res = self.reweighted(np.asarray(theta, dtype=float).reshape(-1))
        notes = [] if not res.flagged[0] else [
            f"effective sample fraction {res.ess_fraction[0]:.3f} is below {self.min_ess:g} "
            "(re-sample frames nearer this θ)"]
        return _one(self.anchor + res.delta_F[0], res.gradient[0],
                    float(np.hypot(self.anchor_sigma, res.sigma[0])), not res.flagged[0], notes)

    def rebased(self, frames, theta: np.ndarray) -> ReweightedPhase:
        """This phase on new ``frames`` of θ (covered by the current frames), its anchor carried
        over as F(θ) = F(θ_ref) + δF(θ)."""
        if not np.allclose(frames.theta0, theta, rtol=0, atol=1e-12):
            raise PhasetuneError(f"phase {self.name}: the new frames were not sampled at θ")
        res = self.reweighted(theta)
        if res.flagged[0]:
            raise PhasetuneError(f"phase {self.name}: θ is not covered by the current frames "
                                 f"(ESS fraction {res.ess_fraction[0]:.3f})",
                                 "re-base only onto iterates the frames cover")
        return ReweightedPhase(self.name, frames, self.model, self.anchor + res.delta_F[0],
                               float(np.hypot(self.anchor_sigma, res.sigma[0])), self.min_ess)


class TangentPhase:
    """F(θ, T) per atom of one phase from a tangent archive (:mod:`phasetune.tangent`); a model
    outside the validated range (with frames) or unsolved by the D-DOS is unsolved."""

    def __init__(self, name: str, estimator, spec, frames: tuple[np.ndarray, float] | None = None,
                 tolerance: float = 1e-3):
        self.name, self.estimator, self.spec = name, estimator, spec
        self.frames, self.tolerance = frames, tolerance
        self.fixed = np.zeros(spec.theta0.size, dtype=bool)

    def predict(self, theta, temperatures, *, gradient: bool = True,
                beta0: float | None = None) -> PhasePrediction:
        from ..tangent.prediction import predict_tangent

        out = predict_tangent(self.estimator, self.spec, np.asarray(theta, dtype=float),
                              np.atleast_1d(temperatures)[:1], frames=self.frames,
                              gradient=True, tolerance=self.tolerance)
        notes = []
        if not out.solved[0, 0]:
            notes.append("the tangent D-DOS is not solved here")
        if out.curvature is not None and not out.validated[0]:
            notes.append(f"curvature error {1e3 * out.curvature.error[0]:.3g} meV/atom beyond "
                         f"the validated {1e3 * self.tolerance:.3g}")
        return _one(out.F[0, 0], out.gradient[0, 0], out.sigma_F[0, 0], not notes, notes)


FUNCTION_RIDGE = 1e-2
"""Default relative ridge of :func:`function_metric`.  A network has directions in θ that barely
change the energies of the frames at θ0 but do change them a little further on (e.g. the inputs
of a hidden unit whose output weight is small); with a vanishing ridge the Gauss–Newton step
runs along them and its linear prediction fails one step later (measured on the Mo network:
ridge 1e-6 and 1e-3 oscillate on a −50 meV/atom ΔF target, 1e-2 and 1e-1 converge in one step
with ESS ≥ 0.8)."""


def function_metric(frames: list, model: DescriptorModel, theta: np.ndarray,
                    ridge: float = FUNCTION_RIDGE) -> np.ndarray:
    """M (P, P) = mean over the frames of every store of (g/N)(g/N)ᵀ, g = ∂E/∂θ at θ, plus
    ``ridge`` × mean(diag M) on the diagonal; (eV/atom)² per θ²."""
    blocks = []
    for store in frames:
        _, g = model.energies_and_gradients(store.descriptors, theta)
        blocks.append(np.asarray(g) / store.descriptors.shape[1])
    g = np.concatenate(blocks)
    metric = g.T @ g / len(g)
    return metric + ridge * np.mean(np.diag(metric)) * np.eye(len(metric))


def last_covered(result: TuneResult) -> np.ndarray:
    """θ of the last iterate whose every target was solved (θ0's round start otherwise)."""
    for step in reversed(result.steps):
        if all(step.solved):
            return step.theta
    return result.steps[0].theta


@dataclass
class ReweightedTune:
    """Outcome of :func:`tune_reweighted`: the tuned θ, each round's Gauss–Newton run, the
    phases as last re-based (their frames at ``theta``'s round start), and what happened."""

    theta0: np.ndarray
    theta: np.ndarray
    rounds: list[TuneResult]
    phases: dict[str, ReweightedPhase]
    converged: bool
    message: str

    @property
    def relative_change(self) -> float:
        return float(np.linalg.norm(self.theta - self.theta0) / np.linalg.norm(self.theta0))


def tune_reweighted(phases: dict[str, ReweightedPhase], theta0: np.ndarray, targets: list,
                    metric: np.ndarray, *,
                    resample: Callable[[str, np.ndarray, int], object] | None,
                    max_rounds: int = 4, max_iter: int = 6, sigma_target: float = 1e-5,
                    progress: Callable[[str], None] | None = None) -> ReweightedTune:
    """Gauss–Newton rounds on reweighted phases, re-sampling between rounds (module doc).

    Args:
        phases: name → phase with frames of θ0.
        theta0: (P,) the original parameters (the regulariser's centre).
        targets: ΔF / transition targets (:mod:`.targets`) at the frames' temperature.
        metric: (P, P) M, e.g. :func:`function_metric`.
        resample: (phase name, θ, round k ≥ 1) → a frame store of θ (MD); None stops after one
            round.
        max_rounds: re-sampling rounds.
        max_iter: Gauss–Newton iterations per round.
    """
    theta0 = np.asarray(theta0, dtype=float)
    free = np.ones(theta0.size, dtype=bool)
    start, rounds = theta0.copy(), []
    message, converged = "", False
    for k in range(max_rounds):
        result = fine_tune(phases, theta0, targets, metric, free=free, start=start,
                           max_iter=max_iter, sigma_target=sigma_target)
        rounds.append(result)
        covered = last_covered(result)
        if progress:
            worst = max(abs(r) for r in result.steps[-1].residuals)
            progress(f"round {k}: {len(result.steps) - 1} step(s), |δθ|/|θ0| = "
                     f"{np.linalg.norm(covered - theta0) / np.linalg.norm(theta0):.3g}, "
                     f"largest residual {1e3 * worst:.3g} meV/atom")
        if result.converged:
            return ReweightedTune(theta0, result.theta, rounds, phases, True,
                                  f"converged in round {k} ({result.message})")
        if resample is None:
            message = f"not converged without re-sampling: {result.message}"
            break
        if np.allclose(covered, start, rtol=0, atol=1e-14):
            message = f"no covered step in round {k}: {result.message}"
            break
        phases = {name: ph.rebased(resample(name, covered, k + 1), covered)
                  for name, ph in phases.items()}
        start = covered
    else:
        message = f"not converged in {max_rounds} round(s): {rounds[-1].message}"
    return ReweightedTune(theta0, start, rounds, phases, converged, message)
