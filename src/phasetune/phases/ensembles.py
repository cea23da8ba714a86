"""Forward propagation of θ ensembles (method.md §8, forward UQ): distributions of F, ΔF and T_c
for thousands of models in one vectorised call, and the linearised formulas
Var F ≈ D*ᵀΣD*, Var ΔF ≈ ΔD*ᵀΣΔD*, Var T_c ≈ ∇T_cᵀΣ∇T_c."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..estimator.ddos import DDOSEstimator


@dataclass
class EnsembleTransition:
    """T_c of every ensemble member between phases A and B.

    Attributes:
        T_c: (n_models,) K; NaN where no solved sign change lies on the grid.
        solved: (n_models,) a root bracketed by solved points.
        temperatures: the grid, K.
        delta_F: (n_T, n_models) ΔF_{B−A}, eV/atom.
    """

    T_c: np.ndarray
    solved: np.ndarray
    temperatures: np.ndarray
    delta_F: np.ndarray

    def summary(self) -> dict:
        ok = self.solved & np.isfinite(self.T_c)
        vals = self.T_c[ok]
        out = {"n_models": int(self.T_c.size), "solved_fraction": float(ok.mean())}
        if vals.size:
            q = np.percentile(vals, [2.5, 16, 50, 84, 97.5])
            out.update(mean=float(vals.mean()), std=float(vals.std(ddof=1)) if vals.size > 1
                       else 0.0, quantiles={"2.5": q[0], "16": q[1], "50": q[2], "84": q[3],
                                            "97.5": q[4]})
        return out


def ensemble_transition(est_a: DDOSEstimator, est_b: DDOSEstimator, thetas: np.ndarray,
                        temperatures: np.ndarray) -> EnsembleTransition:
    """First T_c on the grid for each model, by cubic Hermite interpolation of ΔF between the
    bracketing grid points using ∂ΔF/∂T = −Δs at both ends (error O(ΔT⁴))."""
    t = np.sort(np.asarray(temperatures, dtype=float))
    pa = est_a.predict(thetas, t)
    pb = est_b.predict(thetas, t)
    d = pb.F_total - pa.F_total
    slope = -(pb.entropy - pa.entropy)
    ok = pa.solved & pb.solved
    n_models = d.shape[1]
    tc = np.full(n_models, np.nan)
    solved = np.zeros(n_models, dtype=bool)
    change = (np.sign(d[:-1]) != np.sign(d[1:])) & ok[:-1] & ok[1:]
    has = change.any(axis=0)
    first = np.argmax(change, axis=0)
    m = np.flatnonzero(has)
    i = first[m]
    h = t[i + 1] - t[i]
    y0, y1, s0, s1 = d[i, m], d[i + 1, m], slope[i, m] * h, slope[i + 1, m] * h
    # Hermite cubic on u ∈ [0, 1]; a few Newton steps from the linear guess
    u = np.clip(y0 / (y0 - y1), 0.0, 1.0)
    for _ in range(8):
        h00, h10 = 2 * u**3 - 3 * u**2 + 1, u**3 - 2 * u**2 + u
        h01, h11 = -2 * u**3 + 3 * u**2, u**3 - u**2
        val = h00 * y0 + h10 * s0 + h01 * y1 + h11 * s1
        der = ((6 * u**2 - 6 * u) * y0 + (3 * u**2 - 4 * u + 1) * s0
               + (-6 * u**2 + 6 * u) * y1 + (3 * u**2 - 2 * u) * s1)
        u = np.clip(u - val / np.where(der == 0, np.inf, der), 0.0, 1.0)
    tc[m] = t[i] + u * h
    solved[m] = True
    return EnsembleTransition(T_c=tc, solved=solved, temperatures=t, delta_F=d)


def linearised_variance(gradient: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """gᵀΣg for gradients (..., N_D) and a θ covariance (N_D, N_D)."""
    return np.einsum("...i,ij,...j->...", gradient, covariance, gradient)
