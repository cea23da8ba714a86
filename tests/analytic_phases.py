"""Analytic phases with exact free energies, standing in for DDOSEstimator in tests.

Each phase is harmonic-like: F(θ,T) = θ·d0 + (3/2)k_BT ln(θ·w) + 3k_BT ln(c/k_BT), so
D* = d0 + (3/2)k_BT w/(θ·w), s = −∂F/∂T, and for two phases
T_c = −θ·Δd0 / ((3/2)k_B ln(θ·w_B/θ·w_A)) exactly.
"""

from __future__ import annotations

from types import SimpleNamespace

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


class AnalyticVolumePhase:
    """F(θ, V, T) in closed form, a cubic polynomial in x = (V/v_c)^(−2/3) at fixed (θ, T):

        F = θ·(a x + b x² + e x³) + (3/2)k_BT ln(θ·w) + 3k_BT ln(c/k_BT) + g k_BT x,

    so the volume surface of :mod:`phasetune.pressure` is exact and V*, G, B_T, α_V, C_P and ∂G/∂θ
    can be checked against brute-force minimisation and finite differences.  ``g`` > 0 makes the
    crystal expand on heating (the vibrational free energy falls with V)."""

    def __init__(self, a, b, e, w, g=7.0, c=0.03, v_c=16.0, sigma=1e-4,
                 t_range=(100.0, 3000.0)):
        self.a, self.b, self.e, self.w = (np.asarray(z, float) for z in (a, b, e, w))
        self.g, self.c, self.v_c, self.sigma, self.t_range = g, c, v_c, sigma, t_range

    def x(self, volume):
        return (np.asarray(volume, float) / self.v_c) ** (-2.0 / 3.0)

    def free_energy(self, theta, volume, temperature):
        """F (eV/atom) for one θ (N_D,), scalar or array V and T (broadcast)."""
        x, kt = self.x(volume), KB * np.asarray(temperature, float)
        static = theta @ self.a * x + theta @ self.b * x**2 + theta @ self.e * x**3
        return static + 1.5 * kt * np.log(theta @ self.w) + 3 * kt * np.log(self.c / kt) \
            + self.g * kt * x

    def at_volume(self, volume: float) -> AnalyticPhaseAtVolume:
        return AnalyticPhaseAtVolume(self, volume)


class AnalyticPhaseAtVolume:
    """One volume of an :class:`AnalyticVolumePhase`, with a DDOSEstimator's predict()."""

    def __init__(self, phase: AnalyticVolumePhase, volume: float):
        self.phase, self.volume = phase, float(volume)
        # what PressurePhase reads of a DDOSEstimator
        n_d = phase.a.size
        self.n_components, self.fixed = n_d, np.zeros(n_d, bool)
        self.conventions = {"modes": "3N"}
        self.reference = SimpleNamespace(volume=self.volume, n_atoms=54)
        self.phase_volume = SimpleNamespace(descriptors=SimpleNamespace(
            labels=[f"D{k}" for k in range(n_d)], params={}, fixed=self.fixed))

    def check_theta(self, theta):
        return np.atleast_2d(np.asarray(theta, float))

    def predict(self, theta, temperatures, *, gradient=False, beta0=None, **_):
        ph = self.phase
        th = np.atleast_2d(theta)
        t = np.atleast_1d(np.asarray(temperatures, float))[:, None]
        kt = KB * t
        x = ph.x(self.volume)
        d0 = ph.a * x + ph.b * x**2 + ph.e * x**3
        tw = th @ ph.w
        f = th @ d0 + 1.5 * kt * np.log(tw) + 3 * kt * np.log(ph.c / kt) + ph.g * kt * x
        s = -(1.5 * KB * np.log(tw) + 3 * KB * np.log(ph.c / kt) - 3 * KB + ph.g * KB * x)
        shape = f.shape
        t_range = getattr(self, "t_range", ph.t_range)    # a volume may have its own
        solved = (t >= t_range[0]) & (t <= t_range[1]) & np.ones(shape, bool)
        d_star = d0 + 1.5 * kt[..., None] * ph.w / tw[None, :, None] if gradient else None
        return Prediction(temperatures=t[:, 0], F_total=f, F_vib=f - th @ d0,
                          sigma_F=np.full(shape, ph.sigma), alpha_star=np.zeros(shape),
                          T_alpha_star=np.zeros(shape), entropy=s, solved=solved,
                          status=np.zeros(shape, int), n_clamped=np.zeros(shape, int),
                          conventions={"modes": "3N"}, D_star=d_star)
