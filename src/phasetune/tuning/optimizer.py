"""Gauss–Newton fine-tuning of θ (method.md §8, inverse fine-tuning).

Loss  L = ½ Σ_i [r_i(θ)/σ_i]² + ½ (θ − θ0)ᵀ M (θ − θ0), with constraints Cθ = Cθ0 held by the
projector P = I − M⁻¹Cᵀ(CM⁻¹Cᵀ)⁻¹C.  Linearising r about θ_k (G = ∂r/∂θ, rows ΔD*) gives the
step to the minimiser of the linear model, with b = r(θ_k) − G(θ_k − θ0):

    θ_{k+1} = θ0 − P M⁻¹ Gᵀ (S + G P M⁻¹ Gᵀ)⁻¹ b,      S = diag(σ_i²),

which for one target is θ0 − PM⁻¹g·[ΔF(θ_k) − g·(θ_k − θ0)]/(σ_t² + gᵀPM⁻¹g).  Only free
components move (fixed components such as ZBL stay at 1).  Every iterate must be solved; the
step is capped by a trust radius in the M-norm, and a step that leaves the sampled region
(unsolved prediction) is halved until it does not.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from ..errors import PhasetuneError
from ..estimator.ddos import DDOSEstimator
from .targets import DeltaFTarget, TargetValue

MAX_HALVINGS = 12
"""A step whose iterate is unsolved is halved up to this many times before giving up."""


@dataclass
class TuneStep:
    """One iterate: θ, the targets' residuals (eV/atom), solved flags and ‖θ − θ0‖_M."""

    theta: np.ndarray
    residuals: np.ndarray
    solved: list[bool]
    distance: float
    reasons: list[list[str]] = field(default_factory=list)


@dataclass
class TuneResult:
    """Outcome of :func:`fine_tune`.

    Attributes:
        theta0: (N_D,) starting θ.
        theta: (N_D,) tuned θ.
        steps: every iterate, the first being θ0.
        converged: all |r_i| below their tolerances with every prediction solved.
        message: what happened, in words.
    """

    theta0: np.ndarray
    theta: np.ndarray
    steps: list[TuneStep]
    converged: bool
    message: str

    @property
    def relative_change(self) -> float:
        """|θ − θ0| / |θ0| over the free components."""
        return float(np.linalg.norm(self.theta - self.theta0) / np.linalg.norm(self.theta0))


def constraint_projector(metric_inv: np.ndarray, constraints: np.ndarray | None) -> np.ndarray:
    """P = I − M⁻¹Cᵀ(CM⁻¹Cᵀ)⁻¹C (identity without constraints), on free components."""
    n = metric_inv.shape[0]
    if constraints is None or len(constraints) == 0:
        return np.eye(n)
    c = np.atleast_2d(constraints)
    mc = metric_inv @ c.T
    return np.eye(n) - mc @ np.linalg.solve(c @ mc, c)


def _evaluate(targets, estimators, theta, beta0) -> list[TargetValue]:
    return [t.evaluate(estimators, theta, beta0) for t in targets]


def fine_tune(estimators: dict[str, DDOSEstimator], theta0: np.ndarray,
              targets: list[DeltaFTarget], metric: np.ndarray, *,
              free: np.ndarray | None = None, constraints: np.ndarray | None = None,
              sigma_target: float = 1e-5, trust_radius: float = np.inf, max_iter: int = 10,
              beta0: float | None = None, start: np.ndarray | None = None) -> TuneResult:
    """Tune θ so every target residual vanishes while staying close to θ0 in the M-norm.

    Args:
        estimators: phase name → estimator.
        theta0: (N_D,) starting θ (fixed components = 1).
        targets: residual definitions.
        metric: (N_D, N_D) M (Gram/Fisher of the training design, or a ridge); only the free
            block is used and it must be positive definite there.
        free: (N_D,) mask of tunable components (default: all not fixed by the estimators).
        constraints: (n_c, N_D) rows c with c·θ held at c·θ0 (e.g. ΔD0 to keep ΔE0).
        sigma_target: σ_t in eV/atom (small: the target dominates the regulariser); a target
            with its own ``sigma_target`` attribute (in its residual's units) overrides it.
        trust_radius: maximum ‖θ − θ0‖_M; beyond it the run stops with a clear message.
        max_iter: Gauss–Newton iterations.
        start: (N_D,) first iterate (default θ0, the centre of the regulariser either way), e.g.
            where the previous round of a re-sampled (reweighting) run stopped.
    """
    if not targets:
        raise PhasetuneError("no tuning targets given")
    theta0 = np.asarray(theta0, dtype=float)
    if free is None:
        free = ~next(iter(estimators.values())).fixed
    idx = np.flatnonzero(free)
    m = np.asarray(metric, dtype=float)[np.ix_(idx, idx)]
    try:
        m_inv = np.linalg.inv(m)
        np.linalg.cholesky(m)
    except np.linalg.LinAlgError as exc:
        raise PhasetuneError("the tuning metric is not positive definite on the free "
                             "components", "add a ridge to the metric") from exc
    c = None if constraints is None else np.atleast_2d(constraints)[:, idx]
    proj = constraint_projector(m_inv, c)
    # σ_t per target in its own units (eV/atom for ΔF; volume and expansion targets set theirs)
    s = np.array([getattr(t, "sigma_target", sigma_target) ** 2 for t in targets])
    theta = theta0.copy() if start is None else np.asarray(start, dtype=float).copy()
    steps: list[TuneStep] = []
    message = f"not converged in {max_iter} iterations"
    converged = False
    previous: np.ndarray | None = None
    halvings = 0
    k = 0
    while True:
        values = _evaluate(targets, estimators, theta, beta0)
        unsolved = [t.describe() + ": " + "; ".join(v.reasons)
                    for t, v in zip(targets, values, strict=True) if not v.solved]
        if unsolved and previous is not None and halvings < MAX_HALVINGS:
            # the full Gauss–Newton step left the sampled region: shorten it
            theta = previous + 0.5 * (theta - previous)
            halvings += 1
            continue
        delta = theta[idx] - theta0[idx]
        dist = float(np.sqrt(delta @ m @ delta))
        steps.append(TuneStep(theta.copy(), np.array([v.residual for v in values]),
                              [v.solved for v in values], dist, [v.reasons for v in values]))
        if unsolved:
            message = (f"iterate {k} left the sampled region: {' | '.join(unsolved)}; the "
                       "prediction would be an extrapolation (sample more shells or relax the "
                       "target)")
            warnings.warn(message, stacklevel=2)
            break
        if all(abs(v.residual) <= t.tolerance for t, v in zip(targets, values, strict=True)):
            converged, message = True, f"converged after {k} iteration(s)"
            break
        if k == max_iter:
            break
        g = np.stack([v.gradient[idx] for v in values])
        r = np.array([v.residual for v in values])
        b = r - g @ delta
        pm = proj @ m_inv
        new_delta = -pm @ g.T @ np.linalg.solve(np.diag(s) + g @ pm @ g.T, b)
        new_dist = float(np.sqrt(new_delta @ m @ new_delta))
        if new_dist > trust_radius:
            message = (f"the target lies beyond the trust region: the step needs "
                       f"‖θ − θ0‖_M = {new_dist:.4g} > {trust_radius:.4g}")
            break
        previous, halvings, k = theta.copy(), 0, k + 1
        theta = theta0.copy()
        theta[idx] = theta0[idx] + new_delta
    return TuneResult(theta0=theta0, theta=steps[-1].theta, steps=steps, converged=converged,
                      message=message)
