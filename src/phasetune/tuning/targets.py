"""Tuning targets as residuals r(θ) with exact gradients from the estimator.

* :class:`TransitionTarget` — T_c(low → high) = T: the residual is ΔF_{high−low}(θ, T), which
  vanishes exactly when T is a transition temperature.
* :class:`DeltaFTarget` — ΔF_{a−b}(θ, T) = value (eV/atom).
Both have the gradient ΔD* = D*_a − D*_b (the envelope theorem, method.md §7.6).  With a pressure
P they use ΔG(θ, P, T) and ∂G/∂θ = D*(V*) of phases sampled at several volumes
(:class:`~phasetune.pressure.phase.PressurePhase`), so several targets can pin one transition line.
* :class:`VolumeTarget` — V*(θ, P, T) = value (Å³/atom), gradient ∂V*/∂θ.
* :class:`ExpansionTarget` — the mean volumetric thermal expansion between T1 and T2 at P,
  ᾱ_V = ln(V*(T2)/V*(T1))/(T2 − T1) = value (1/K), gradient (∂V*₂/∂θ/V*₂ − ∂V*₁/∂θ/V*₁)/(T2 − T1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..errors import PhasetuneError
from ..estimator.ddos import DDOSEstimator
from ..pressure.phase import Isobar, PressurePhase


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
    pressure: float | None = None
    """eV/Å³; None: at the fixed sampled volume."""

    def where(self) -> str:
        at = "" if self.pressure is None else f", {self.pressure / GPA_TO_EV_PER_A3:g} GPa"
        return f"{self.temperature:g} K{at}"

    def describe(self) -> str:
        g = "F" if self.pressure is None else "G"
        return (f"Δ{g}({self.phase_a}−{self.phase_b}, {self.where()}) = "
                f"{1e3 * self.value:g} meV/atom")

    def evaluate(self, estimators: dict, theta: np.ndarray,
                 beta0: float | None = None) -> TargetValue:
        t = np.array([self.temperature])
        pa = phase_at(estimators, self.phase_a, self.pressure, self.describe()).predict(
            theta, t, gradient=True, beta0=beta0)
        pb = phase_at(estimators, self.phase_b, self.pressure, self.describe()).predict(
            theta, t, gradient=True, beta0=beta0)
        reasons = [f"{n}: {r}" for n, p in ((self.phase_a, pa), (self.phase_b, pb))
                   for r in p.reasons(0, 0)]
        return TargetValue(
            residual=float(pa.F_total[0, 0] - pb.F_total[0, 0] - self.value),
            gradient=pa.D_star[0, 0] - pb.D_star[0, 0],
            sigma=float(np.hypot(pa.sigma_F[0, 0], pb.sigma_F[0, 0])),
            solved=bool(pa.solved[0, 0] and pb.solved[0, 0]),
            reasons=reasons,
        )


def phase_at(estimators: dict, name: str, pressure: float | None, what: str) \
        -> DDOSEstimator | Isobar:
    """The estimator of ``name`` at fixed volume, or its isobar at ``pressure`` (eV/Å³);
    ``what`` names the target in errors."""
    if name not in estimators:
        raise PhasetuneError(f"target {what} names phase {name!r}, which is not loaded",
                             f"loaded phases: {', '.join(estimators)}")
    est = estimators[name]
    if pressure is None:
        if isinstance(est, PressurePhase):
            raise PhasetuneError(f"target {what} has no pressure, but the phases are loaded at "
                                 "pressure", "give P for every target, or none")
        return est
    if not isinstance(est, PressurePhase):
        raise PhasetuneError(f"target {what} needs phase {name!r} at several volumes",
                             "load the phases as PressurePhase (all volumes)")
    return est.isobar(pressure)


@dataclass
class TransitionTarget(DeltaFTarget):
    """T_c(low → high) = temperature (at pressure P, if given): ΔF (ΔG) _{high−low} = 0."""

    def describe(self) -> str:
        return f"T_c({self.phase_b}→{self.phase_a}) = {self.where()}"


def transition_target(low: str, high: str, temperature: float, tolerance: float = 1e-5,
                      pressure: float | None = None) -> TransitionTarget:
    """T_c between ``low`` (stable below) and ``high`` equal to ``temperature`` K (at
    ``pressure`` eV/Å³ when given)."""
    return TransitionTarget(phase_a=high, phase_b=low, temperature=temperature, value=0.0,
                            tolerance=tolerance, pressure=pressure)


@dataclass
class VolumeTarget:
    """V*(θ, P, T) of one phase = value, Å³/atom (e.g. a measured lattice parameter)."""

    phase: str
    temperature: float
    pressure: float
    value: float
    tolerance: float = 1e-4
    sigma_target: float = 1e-6
    """σ_t of the Gauss–Newton step, Å³/atom (the target dominates the regulariser)."""

    def describe(self) -> str:
        return (f"V*({self.phase}, {self.temperature:g} K, "
                f"{self.pressure / GPA_TO_EV_PER_A3:g} GPa) = {self.value:g} Å³/atom")

    def evaluate(self, estimators: dict, theta: np.ndarray,
                 beta0: float | None = None) -> TargetValue:
        phase_at(estimators, self.phase, self.pressure, self.describe())
        g = estimators[self.phase].predict(theta, [self.temperature], [self.pressure],
                                           gradient=True, beta0=beta0)
        return TargetValue(
            residual=float(g.volume[0, 0, 0] - self.value),
            gradient=g.volume_gradient[0, 0, 0], sigma=float(g.sigma_volume[0, 0, 0]),
            solved=bool(g.solved[0, 0, 0]),
            reasons=[f"{self.phase}: {r}" for r in g.reasons(0, 0, 0)])


@dataclass
class ExpansionTarget:
    """ᾱ_V = ln(V*(T2)/V*(T1))/(T2 − T1) of one phase at pressure P = value, 1/K."""

    phase: str
    t_low: float
    t_high: float
    pressure: float
    value: float
    tolerance: float = 1e-8
    sigma_target: float = 1e-11
    """σ_t of the Gauss–Newton step, 1/K (the target dominates the regulariser)."""

    def describe(self) -> str:
        return (f"α_V({self.phase}, {self.t_low:g}–{self.t_high:g} K, "
                f"{self.pressure / GPA_TO_EV_PER_A3:g} GPa) = {1e6 * self.value:g}e-6/K")

    def evaluate(self, estimators: dict, theta: np.ndarray,
                 beta0: float | None = None) -> TargetValue:
        phase_at(estimators, self.phase, self.pressure, self.describe())
        g = estimators[self.phase].predict(theta, [self.t_low, self.t_high], [self.pressure],
                                           gradient=True, beta0=beta0)
        v, dv = g.volume[0, :, 0], g.volume_gradient[0, :, 0]
        span = self.t_high - self.t_low
        sigma = float(np.hypot(*(g.sigma_volume[0, :, 0] / v))) / span
        return TargetValue(
            residual=float(np.log(v[1] / v[0]) / span - self.value),
            gradient=(dv[1] / v[1] - dv[0] / v[0]) / span, sigma=sigma,
            solved=bool(g.solved[0, :, 0].all()),
            reasons=[f"{self.phase} at {t:g} K: {r}" for k, t in
                     enumerate((self.t_low, self.t_high)) for r in g.reasons(0, k, 0)])
