"""Joint correction of the per-shell terms beyond independent marginals (method.md §7.9).

On shell i the estimator needs the tilted log-moment

    h_i(θ, β) = −(1/N) ln E_i[exp(−Nβ θ·(D − D0))]          (dimensionless, per atom)

and approximates it by a product of one-dimensional PCA marginals (score route) or by a
Gaussian (cumulant route).  Uncorrelated components are not independent: at high shells the
product puts weight on combinations of components that the crystal never visits, and the
tilted term falls far below the truth (BCC Mo at 0.7 T_m: −2 to −5 meV/atom; A15 Mo: no
interior saddle at all above ≈ 1200 K).

With the shell's raw descriptors, h_i is known exactly at one reference θ_ref (a log-mean-exp
over the samples), together with its gradient β⟨D − D0⟩_w (the tilted mean).  The correction

    δ_i(β) = h_i^joint(θ_ref, β) − h_i^route(θ_ref, β),
    γ_i(β) = β[⟨D − D0⟩_w(θ_ref, β) − U_i^route(θ_ref, β)]       (U_i = R_i x*_i)

is tabulated once on a grid of temperatures and added for every model to first order in
θ − θ_ref:

    h_i(θ, β) ≈ h_i^route(θ, β) + δ_i(β) + γ_i(β)·(θ − θ_ref).

It is exact at θ_ref, keeps ∂F/∂θ exact for the corrected estimator (the correction is linear
in θ), and costs N_D·n_α operations per (model, T).  Its statistical error is that of the
log-mean-exp, Var ≈ (1/n_eff − 1/n)/N² with n_eff = (Σw)²/Σw² the effective sample size of
the tilted weights; it joins σ_F.  The log of a sample mean is biased low by 1/(2n_eff) − 1/(2n)
to leading order (delta method); that bias is removed from h^joint.  What it leaves out is
second order in θ − θ_ref.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import CubicSpline

from ..constants import KB
from ..errors import EstimatorError
from ..model import ShellStats, shells_have_raw
from .saddle import ShellTerms

ESS_MIN = 10.0
"""Fewest effective samples of the tilted shell densities at α* for a solved estimate."""
N_NODES = 64
"""Temperature nodes of the tables (uniform in ln T)."""
T_BELOW, T_ABOVE = 0.25, 2.0
"""Table range: T_BELOW × the lowest to T_ABOVE × the highest shell temperature."""


def tilted_moments(raw: np.ndarray, d0: np.ndarray, theta: np.ndarray, beta: np.ndarray,
                   n_atoms: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact tilted log-moment of one shell's samples.

    Args:
        raw: (n, N_D) descriptors per atom.  d0: (N_D,).  theta: (N_D,).
        beta: (n_k,) 1/eV.  n_atoms: N.

    Returns:
        h (n_k,) = −(1/N) ln mean exp(−Nβθ·(D − D0)); the tilted mean ⟨D − D0⟩_w (n_k, N_D);
        the effective sample size n_eff (n_k,).
    """
    dd = raw - d0
    a = -n_atoms * np.outer(dd @ theta, beta)           # (n, n_k)
    top = a.max(axis=0)
    w = np.exp(a - top)
    total = w.sum(axis=0)
    h = -(np.log(total / len(dd)) + top) / n_atoms
    mean = (w.T @ dd) / total[:, None]
    ess = total**2 / np.einsum("sk,sk->k", w, w)
    return h, mean, ess


@dataclass
class JointCorrection:
    """Tabulated δ_i, γ_i and their variance for one estimator route (see module docstring).

    Attributes:
        theta_ref: (N_D,) the expansion point.
        log_t: (n_k,) ln T of the nodes.
        delta: (n_k, n_α).  gamma: (n_k, n_α, N_D).  var: (n_k, n_α) dimensionless².
        ess: (n_k, n_α) effective sample sizes at θ_ref.
    """

    theta_ref: np.ndarray
    log_t: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    var: np.ndarray
    ess: np.ndarray

    def __post_init__(self) -> None:
        n_k, n_a, n_d = self.gamma.shape
        self._delta = CubicSpline(self.log_t, self.delta, axis=0)
        self._gamma = CubicSpline(self.log_t, self.gamma.reshape(n_k, -1), axis=0)
        self._var = CubicSpline(self.log_t, self.var, axis=0)
        self._log_ess = CubicSpline(self.log_t, np.log(self.ess), axis=0)
        self.shape = (n_a, n_d)

    @classmethod
    def build(cls, shells: list[ShellStats], d0: np.ndarray, theta_ref: np.ndarray,
              n_atoms: int, shell_temperatures: np.ndarray, route_terms) -> JointCorrection:
        """Tables for one route.

        Args:
            shells: the estimator's shells (sorted by α), each with ``raw``.
            d0: (N_D,).  theta_ref: (N_D,) expansion point (fixed components = 1).
            n_atoms: N.  shell_temperatures: (n_α,) K, to choose the node range.
            route_terms: callable β (n_k,) → (ShellTerms for the single model θ_ref,
                U (n_k, n_α, N_D) the route's per-shell tilted means R_i x*_i).
        """
        if not shells_have_raw(shells):
            raise EstimatorError("the joint correction needs every shell's raw descriptors",
                                 "sample with store_raw: true (the default for new campaigns)")
        t_lo = T_BELOW * float(np.min(shell_temperatures))
        t_hi = T_ABOVE * float(np.max(shell_temperatures))
        log_t = np.linspace(np.log(t_lo), np.log(t_hi), N_NODES)
        beta = 1.0 / (KB * np.exp(log_t))
        n_a, n_d = len(shells), d0.size
        h_joint = np.empty((N_NODES, n_a))
        mean = np.empty((N_NODES, n_a, n_d))
        ess = np.empty((N_NODES, n_a))
        counts = np.array([len(s.raw) for s in shells], dtype=float)
        for i, s in enumerate(shells):
            h_joint[:, i], mean[:, i], ess[:, i] = tilted_moments(s.raw, d0, theta_ref, beta,
                                                                  n_atoms)
        # ln of a sample mean is biased low by Var(w)/(2n⟨w⟩²) = 1/(2 n_eff) − 1/(2n) (delta
        # method): remove it, so h is not biased high where few samples carry the tilt
        h_joint -= (0.5 / ess - 0.5 / counts[None, :]) / n_atoms
        terms, u = route_terms(beta)
        delta = h_joint - terms.h[:, 0, :]
        gamma = beta[:, None, None] * (mean - u)
        var = np.clip(1.0 / ess - 1.0 / counts[None, :], 0.0, None) / n_atoms**2
        return cls(np.asarray(theta_ref, dtype=float).copy(), log_t, delta, gamma, var, ess)

    def _log_t(self, beta: np.ndarray) -> np.ndarray:
        """ln T of β, clamped to the table's range."""
        return np.clip(-np.log(KB * beta), self.log_t[0], self.log_t[-1])

    def at(self, beta: np.ndarray) -> JointTerms:
        """The tables at the inverse temperatures of one call (β clamped to the table's
        range), evaluated once and shared by every chunk of models."""
        log_t = self._log_t(beta)
        inside = (log_t > self.log_t[0]) & (log_t < self.log_t[-1])
        dlogt_dbeta = -1.0 / beta * inside              # flat beyond the table
        n_a, n_d = self.shape
        gamma = self._gamma(log_t).reshape(-1, n_a, n_d)
        dgamma = self._gamma(log_t, 1).reshape(-1, n_a, n_d) * dlogt_dbeta[:, None, None]
        return JointTerms(self.theta_ref, beta, self._delta(log_t),
                          self._delta(log_t, 1) * dlogt_dbeta[:, None], gamma, dgamma,
                          np.clip(self._var(log_t), 0.0, None))

    def saddle_ess(self, alpha: np.ndarray, alphas: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Effective samples at α* (n_T, M): n_eff of the two shells bracketing α* at θ_ref,
        interpolated log-linearly in α; alpha (n_T, M), alphas (n_α,) ascending."""
        log_ess = self._log_ess(self._log_t(beta))                       # (n_T, n_α)
        a = np.clip(np.nan_to_num(alpha, nan=alphas[0]), alphas[0], alphas[-1])
        lo = np.clip(np.searchsorted(alphas, a) - 1, 0, alphas.size - 2)
        frac = (a - alphas[lo]) / (alphas[lo + 1] - alphas[lo])
        lower = np.take_along_axis(log_ess, lo, axis=1)
        upper = np.take_along_axis(log_ess, lo + 1, axis=1)
        return np.exp(lower + frac * (upper - lower))


@dataclass
class JointTerms:
    """:class:`JointCorrection` at the temperatures of one call: δ, dδ/dβ, var (n_T, n_α);
    γ, dγ/dβ (n_T, n_α, N_D); β (n_T,)."""

    theta_ref: np.ndarray
    beta: np.ndarray
    delta: np.ndarray
    ddelta: np.ndarray
    gamma: np.ndarray
    dgamma: np.ndarray
    var: np.ndarray

    def apply(self, terms: ShellTerms, theta: np.ndarray) -> None:
        """Add the correction to the route's terms (n_T, M, n_α) in place; theta (M, N_D)."""
        dtheta = theta - self.theta_ref
        terms.h += self.delta[:, None, :] + np.einsum("tik,mk->tmi", self.gamma, dtheta)
        terms.e += self.ddelta[:, None, :] + np.einsum("tik,mk->tmi", self.dgamma, dtheta)
        if terms.var is not None:
            terms.var += self.var[:, None, :]

    def shell_vectors(self) -> np.ndarray:
        """Correction to U_i = ∂h_i/∂θ / β, (n_T, 1, n_α, N_D), descriptor units."""
        return (self.gamma / self.beta[:, None, None])[:, None]

    def gradient(self, weights: np.ndarray) -> np.ndarray:
        """Correction to D* − D0 = Σ_i w_i γ_i/β, (n_T, M, N_D); weights (n_T, M, n_α)."""
        return np.einsum("tmi,tik->tmk", weights, self.shell_vectors()[:, 0])
