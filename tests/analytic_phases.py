"""Analytic phases with exact free energies, standing in for DDOSEstimator in tests.

Each phase is harmonic-like: F(θ,T) = θ·d0 + (3/2)k_BT ln(θ·w) + 3k_BT ln(c/k_BT), so
D* = d0 + (3/2)k_BT w/(θ·w), s = −∂F/∂T, and for two phases
T_c = −θ·Δd0 / ((3/2)k_B ln(θ·w_B/θ·w_A)) exactly.
"""

from __future__ import annotations

import numpy as np

from phasetune.constants import KB
from phasetune.estimator.prediction import Prediction


class AnalyticPhase:
    """Stands in for a DDOSEstimator: same predict() contract, closed-form answers."""

    def __init__(self, d0, w, c=0.03, t_range=(100.0, 3000.0), sigma=1e-4):
        self.d0, self.w, self.c, self.t_range, self.sigma = map(np.asarray, (d0, w, c, t_range,
                                                                             sigma))
        self.n_components = len(d0)
        self.fixed = np.zeros(self.n_components, dtype=bool)
        self.conventions = {"modes": "3N"}

    def alternative(self):
        """The estimator at another score degree: the same closed form (degree indicator 0)."""
        return self

    def predict(self, theta, temperatures, *, gradient=False, beta0=None, **_):
        th = np.atleast_2d(theta)
        t = np.atleast_1d(temperatures)[:, None]
        kt = KB * t
        tw = th @ self.w
        f = th @ self.d0 + 1.5 * kt * np.log(tw) + 3 * kt * np.log(self.c / kt)
        s = -(1.5 * KB * np.log(tw) + 3 * KB * np.log(self.c / kt) - 3 * KB)
        shape = f.shape
        solved = (t >= self.t_range[0]) & (t <= self.t_range[1]) & np.ones(shape, bool)
        d_star = None
        if gradient:
            d_star = self.d0 + 1.5 * kt[..., None] * self.w / tw[None, :, None]
        return Prediction(temperatures=t[:, 0], F_total=f, F_vib=f, sigma_F=np.full(shape,
                          float(self.sigma)), alpha_star=np.zeros(shape),
                          T_alpha_star=np.zeros(shape), entropy=s, solved=solved,
                          status=np.zeros(shape, int), n_clamped=np.zeros(shape, int),
                          conventions=self.conventions, D_star=d_star)


def exact_tc(a: AnalyticPhase, b: AnalyticPhase, theta: np.ndarray) -> float:
    """T_c where F_a = F_b, K."""
    return float(-theta @ (b.d0 - a.d0) / (1.5 * KB * np.log((theta @ b.w) / (theta @ a.w))))
