"""Gaussian posterior of θ by Bayesian linear regression (method.md §8, forward UQ), and the
Gram/Fisher metric M = ΦᵀWΦ/σ² that measures how much a change of θ degrades the training fit.

Model: y = Φc + ε, ε ~ N(0, σ² W⁻¹), prior c ~ N(c0, (λ/σ²)⁻¹ Λ⁻¹) with the scale-free ridge
Λ = diag(ΦᵀWΦ).  c = (β0, θ_free).  ``method="ridge"`` fixes λ; ``method="evidence"`` maximises
the marginal likelihood over λ and σ² (MacKay's fixed-point updates).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PhasetuneError
from .design import DesignMatrix


@dataclass
class ThetaPosterior:
    """Posterior of the full θ (N_D,) with fixed components held at 1 (zero variance).

    Attributes:
        mean: (N_D,) posterior mean θ̄.
        covariance: (N_D, N_D) Σ_θ (zero rows/columns at fixed components).
        beta0: posterior mean of β0, eV/atom.
        noise: σ², the fitted noise scale of the weighted residuals (dimensionless).
        ridge: λ.
        rmse_energy: eV/atom, of the posterior mean on the training set.
        rmse_force: eV/Å.
        metric: (N_D, N_D) Gram/Fisher metric ΦᵀWΦ/σ² restricted to θ (zeros at fixed).
        n_rows: number of training rows.
    """

    mean: np.ndarray
    covariance: np.ndarray
    beta0: float
    noise: float
    ridge: float
    rmse_energy: float
    rmse_force: float
    metric: np.ndarray
    n_rows: int

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """(n, N_D) draws θ ~ N(θ̄, Σ_θ)."""
        rng = np.random.default_rng(seed)
        vals, vecs = np.linalg.eigh(0.5 * (self.covariance + self.covariance.T))
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))
        return self.mean + rng.standard_normal((n, len(self.mean))) @ root.T

    def to_dict(self) -> dict:
        return {"beta0": self.beta0, "noise": self.noise, "ridge": self.ridge,
                "rmse_energy_eV_per_atom": self.rmse_energy, "rmse_force_eV_per_A":
                self.rmse_force, "n_rows": self.n_rows,
                "theta_std": np.sqrt(np.diag(self.covariance)).tolist()}


def _embed(free: np.ndarray, block: np.ndarray) -> np.ndarray:
    n = len(free)
    out = np.zeros((n, n))
    idx = np.flatnonzero(free)
    out[np.ix_(idx, idx)] = block
    return out


def fit_posterior(design: DesignMatrix, prior_mean: np.ndarray | None = None,
                  method: str = "evidence", ridge: float = 1e-6,
                  max_iter: int = 200) -> ThetaPosterior:
    """Bayesian linear regression of (β0, θ_free) on a design matrix.

    Args:
        design: Φ, y, weights.
        prior_mean: (1 + n_free,) prior centre c0 (e.g. the shipped potential); default zeros.
        method: ``"ridge"`` (fixed λ = ``ridge``) or ``"evidence"``.
        ridge: λ for ``"ridge"``, starting value for ``"evidence"``.
    """
    if method not in ("ridge", "evidence"):
        raise PhasetuneError(f"unknown regression method {method!r}", "use 'ridge' or 'evidence'")
    a = design.phi * design.weights[:, None]
    b = design.y * design.weights
    n_rows, p = a.shape
    if n_rows <= p and method == "evidence":
        raise PhasetuneError(f"{n_rows} training rows for {p} coefficients",
                             "add configurations or force rows, or use method='ridge'")
    c0 = np.zeros(p) if prior_mean is None else np.asarray(prior_mean, dtype=float)
    gram = a.T @ a
    scale = np.sqrt(np.diag(gram))
    scale[scale == 0] = 1.0
    g = gram / np.outer(scale, scale)  # scale-free: unit diagonal
    rhs = (a.T @ (b - a @ c0)) / scale
    evals = np.linalg.eigvalsh(g)
    lam, sigma2 = ridge, 1.0
    for _ in range(max_iter if method == "evidence" else 1):
        delta = np.linalg.solve(g + lam * np.eye(p), rhs)
        resid = b - a @ (c0 + delta / scale)
        if method == "ridge":
            sigma2 = float(resid @ resid / max(n_rows - p, 1))
            break
        gamma = float(np.sum(evals / (evals + lam)))
        new_sigma2 = float(resid @ resid / max(n_rows - gamma, 1e-12))
        new_lam = float(gamma * new_sigma2 / max(delta @ delta, 1e-300))
        new_lam = min(max(new_lam, 1e-14), 1e6)
        converged = abs(np.log(new_lam / lam)) < 1e-8 and abs(new_sigma2 / sigma2 - 1) < 1e-10
        lam, sigma2 = new_lam, new_sigma2
        if converged:
            break
    delta = np.linalg.solve(g + lam * np.eye(p), rhs)
    coef = c0 + delta / scale
    cov = sigma2 * np.linalg.inv(g + lam * np.eye(p)) / np.outer(scale, scale)
    rmse_e, rmse_f = design.rmse(coef)
    full_mean = np.ones(len(design.free))
    full_mean[design.free] = coef[1:]
    return ThetaPosterior(
        mean=full_mean,
        covariance=_embed(design.free, cov[1:, 1:]),
        beta0=float(coef[0]),
        noise=sigma2,
        ridge=lam,
        rmse_energy=rmse_e,
        rmse_force=rmse_f,
        metric=_embed(design.free, gram[1:, 1:] / sigma2),
        n_rows=n_rows,
    )
