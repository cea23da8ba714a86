"""Transition temperatures T_c(θ): roots of ΔF_{B−A}(θ, T) = 0 (method.md §8).

Bracketed on a temperature grid, refined by Newton with ∂ΔF/∂T = −Δs.  At T_c, by implicit
differentiation of ΔF(T_c; θ) = 0:

    ∂T_c/∂θ = (D*_B − D*_A)/(s_B − s_A),    σ_Tc ≈ σ_ΔF/|Δs|.

A T_c outside the solved range is reported as a bound (``kind`` "above"/"below"), not a number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimator.ddos import DDOSEstimator
from ..estimator.prediction import Prediction

NEWTON_TOL = 1e-4
"""Newton stops when the T step is below this, K."""


@dataclass
class Transition:
    """A transition between phases A (stable below) and B, or a bound on it.

    Attributes:
        low: phase stable just below T_c.
        high: phase stable just above T_c.
        kind: ``"root"`` (a T_c), ``"above"`` (T_c > bound), ``"below"`` (T_c < bound) or
            ``"none"`` (no sign change and no trend towards one).
        T_c: K (NaN unless kind == "root").
        sigma_Tc: K, from σ_ΔF/|Δs|.
        bound: K, the edge of the solved range for bounds.
        gradient: (N_D,) ∂T_c/∂θ, K per θ unit (None unless root).
        delta_entropy: s_high − s_low at T_c, eV/K/atom.
        solved: both bracketing points and the refined point are solved.
    """

    low: str
    high: str
    kind: str
    T_c: float = float("nan")
    sigma_Tc: float = float("nan")
    bound: float = float("nan")
    gradient: np.ndarray | None = None
    delta_entropy: float = float("nan")
    solved: bool = False

    def to_dict(self) -> dict:
        out = {"low": self.low, "high": self.high, "kind": self.kind, "T_c": self.T_c,
               "sigma_Tc": self.sigma_Tc, "bound": self.bound,
               "delta_entropy": self.delta_entropy, "solved": self.solved}
        if self.gradient is not None:
            out["gradient"] = self.gradient.tolist()
        return out


def _delta(est_a: DDOSEstimator, est_b: DDOSEstimator, theta: np.ndarray, t: np.ndarray,
           beta0: float | None, gradient: bool) -> tuple[Prediction, Prediction]:
    pa = est_a.predict(theta, t, gradient=gradient, beta0=beta0)
    pb = est_b.predict(theta, t, gradient=gradient, beta0=beta0)
    return pa, pb


def refine_root(est_a: DDOSEstimator, est_b: DDOSEstimator, theta: np.ndarray, t_lo: float,
                t_hi: float, beta0: float | None = None, max_iter: int = 30
                ) -> tuple[float, Prediction, Prediction]:
    """Newton (safeguarded by the bracket) for ΔF_{B−A}(T) = 0 in [t_lo, t_hi], one model."""
    t = 0.5 * (t_lo + t_hi)
    lo, hi = t_lo, t_hi
    pa, pb = _delta(est_a, est_b, theta, np.array([lo]), beta0, False)
    sign_lo = np.sign(pb.F_total[0, 0] - pa.F_total[0, 0])
    for _ in range(max_iter):
        pa, pb = _delta(est_a, est_b, theta, np.array([t]), beta0, False)
        d = pb.F_total[0, 0] - pa.F_total[0, 0]
        slope = -(pb.entropy[0, 0] - pa.entropy[0, 0])
        if np.sign(d) == sign_lo:
            lo = t
        else:
            hi = t
        step = d / slope if slope != 0 else np.inf
        new = t - step
        if not lo < new < hi:
            new = 0.5 * (lo + hi)
        if abs(new - t) < NEWTON_TOL:
            t = new
            break
        t = new
    pa, pb = _delta(est_a, est_b, theta, np.array([t]), beta0, True)
    return t, pa, pb


def transitions(est_a: DDOSEstimator, est_b: DDOSEstimator, theta: np.ndarray,
                temperatures: np.ndarray, names: tuple[str, str] = ("A", "B"),
                beta0: float | None = None) -> list[Transition]:
    """Every T_c of phases A and B for one model θ (N_D,) on the grid ``temperatures``.

    Only solved grid points are used to bracket; when no sign change lies inside the solved
    range, the trend of ΔF at the edge decides whether a bound is reported.
    """
    theta = np.asarray(theta, dtype=float)
    t = np.sort(np.asarray(temperatures, dtype=float))
    pa, pb = _delta(est_a, est_b, theta, t, beta0, False)
    delta = (pb.F_total - pa.F_total)[:, 0]
    ok = pa.solved[:, 0] & pb.solved[:, 0]
    result: list[Transition] = []
    idx = np.flatnonzero(ok)
    if idx.size == 0:
        return [Transition(names[0], names[1], "none")]
    for i, j in zip(idx[:-1], idx[1:], strict=True):
        if np.sign(delta[i]) != np.sign(delta[j]) and delta[i] != 0:
            tc, qa, qb = refine_root(est_a, est_b, theta, t[i], t[j], beta0)
            ds = float(qb.entropy[0, 0] - qa.entropy[0, 0])
            sigma = float(np.hypot(qa.sigma_F[0, 0], qb.sigma_F[0, 0]))
            low, high = (names[0], names[1]) if delta[i] > 0 else (names[1], names[0])
            result.append(Transition(
                low=low, high=high, kind="root", T_c=tc, sigma_Tc=sigma / abs(ds),
                gradient=(qb.D_star[0, 0] - qa.D_star[0, 0]) / ds,
                delta_entropy=ds if low == names[0] else -ds,
                solved=bool(qa.solved[0, 0] and qb.solved[0, 0] and j == i + 1)))
    if result:
        return result
    first, last = idx[0], idx[-1]
    stable = names[0] if delta[first] > 0 else names[1]
    other = names[1] if stable == names[0] else names[0]
    # ΔF moving towards zero at an edge of the solved range suggests a T_c beyond it
    slope_hi = delta[last] - delta[idx[-2]] if idx.size > 1 else 0.0
    slope_lo = delta[idx[1]] - delta[first] if idx.size > 1 else 0.0
    if np.sign(slope_hi) == -np.sign(delta[last]) and slope_hi != 0:
        return [Transition(stable, other, "above", bound=float(t[last]))]
    if np.sign(slope_lo) == np.sign(delta[first]) and slope_lo != 0:
        return [Transition(other, stable, "below", bound=float(t[first]))]
    return [Transition(stable, other, "none", bound=float(t[last]))]
