"""Tuning targets as residuals r(θ) with exact gradients from the estimator.

* :class:`TransitionTarget` — T_c(low → high) = T: the residual is ΔF_{high−low}(θ, T), which
  vanishes exactly when T is a transition temperature.
* :class:`DeltaFTarget` — ΔF_{a−b}(θ, T) = value (eV/atom).
Both have the gradient ΔD* = D*_a − D*_b (the envelope theorem, method.md §7.6).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PhasetuneError
from ..estimator.ddos import DDOSEstimator


@dataclass
class TargetValue:
    """One evaluation of a target at θ.

    Attributes:
        residual: eV/atom (0 at the target).
        gradient: (N_D,) ∂residual/∂θ.
        sigma: statistical error of the residual, eV/atom.
        solved: both phase predictions solved.
        reasons: why not solved.
    """

    residual: float
    gradient: np.ndarray
    sigma: float
    solved: bool
    reasons: list[str]


@dataclass
class DeltaFTarget:
    """ΔF_{a−b}(θ, T) = value, eV/atom."""

    phase_a: str
    phase_b: str
    temperature: float
    value: float = 0.0
    tolerance: float = 1e-4

    def describe(self) -> str:
        return (f"ΔF({self.phase_a}−{self.phase_b}, {self.temperature:g} K) = "
                f"{1e3 * self.value:g} meV/atom")

    def evaluate(self, estimators: dict[str, DDOSEstimator], theta: np.ndarray,
                 beta0: float | None = None) -> TargetValue:
        for name in (self.phase_a, self.phase_b):
            if name not in estimators:
                raise PhasetuneError(f"target {self.describe()} names phase {name!r}, which is "
                                     f"not loaded", f"loaded phases: {', '.join(estimators)}")
        t = np.array([self.temperature])
        pa = estimators[self.phase_a].predict(theta, t, gradient=True, beta0=beta0)
        pb = estimators[self.phase_b].predict(theta, t, gradient=True, beta0=beta0)
        reasons = [f"{n}: {r}" for n, p in ((self.phase_a, pa), (self.phase_b, pb))
                   for r in p.reasons(0, 0)]
        return TargetValue(
            residual=float(pa.F_total[0, 0] - pb.F_total[0, 0] - self.value),
            gradient=pa.D_star[0, 0] - pb.D_star[0, 0],
            sigma=float(np.hypot(pa.sigma_F[0, 0], pb.sigma_F[0, 0])),
            solved=bool(pa.solved[0, 0] and pb.solved[0, 0]),
            reasons=reasons,
        )


@dataclass
class TransitionTarget(DeltaFTarget):
    """T_c(low → high) = temperature: ΔF_{high−low}(θ, T) = 0."""

    def describe(self) -> str:
        return f"T_c({self.phase_b}→{self.phase_a}) = {self.temperature:g} K"


def transition_target(low: str, high: str, temperature: float,
                      tolerance: float = 1e-5) -> TransitionTarget:
    """T_c between ``low`` (stable below) and ``high`` equal to ``temperature`` K."""
    return TransitionTarget(phase_a=high, phase_b=low, temperature=temperature, value=0.0,
                            tolerance=tolerance)
