"""The curvature correction of the tangent route, from MD frames of θ0 (method.md §2.5).

With Δ(X; θ) = E(X; θ) − E_lin(X; θ) (eV, total; zero at θ0, second order in δθ = θ − θ0),

    F(θ) = F_lin(θ) − (k_BT/N) ln⟨exp(−βΔ)⟩_{lin,θ}
         ≈ F_lin(θ) + ⟨Δ⟩_θ0/N                                  (the correction c)

to first order in Δ, evaluated on frames of θ0 at the same T.  The neglected terms, the
second cumulant of Δ and the shift of the ensemble from θ0 to the linearised θ, give the error
estimate

    e(θ) = [β(½ Var_θ0(Δ) + |κ(Δ, L)|) + ½β²|κ(Δ, L, L)|] / N           eV/atom,

with L = N δθ·J and κ the joint cumulants over the frames (the first terms of the cumulant
expansion of ⟨Δ⟩_{lin,θ} = ⟨Δ e^{−βL}⟩_θ0/⟨e^{−βL}⟩_θ0 and of the logarithm),

and the step is inside the validated range while e(θ) ≤ ``tolerance``.  The gradient of c is
∂c/∂θ = ⟨∂E/∂θ − N J⟩_θ0 / N.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import KB
from ..nonlinear.tangent import TangentSpec

DEFAULT_TOLERANCE = 1e-3
"""e(θ) above which a tangent step is outside the validated range, eV/atom."""


@dataclass
class Curvature:
    """The correction at each model.

    Attributes:
        correction: (M,) c = ⟨Δ⟩_θ0/N, eV/atom.
        sigma: (M,) its standard error over the frames (frames taken as independent), eV/atom.
        error: (M,) e(θ), the size of what c neglects, eV/atom.
        gradient: (M, P) ∂c/∂θ, eV/atom per unit θ (None unless asked for).
        temperature: K, of the frames.
        n_frames: frames used.
    """

    correction: np.ndarray
    sigma: np.ndarray
    error: np.ndarray
    gradient: np.ndarray | None
    temperature: float
    n_frames: int

    def validated(self, tolerance: float = DEFAULT_TOLERANCE) -> np.ndarray:
        """(M,) bool: e(θ) ≤ ``tolerance`` eV/atom."""
        return self.error <= tolerance


def curvature(spec: TangentSpec, per_atom: np.ndarray, temperature: float,
              thetas: np.ndarray, gradient: bool = False) -> Curvature:
    """The correction for models ``thetas`` (M, P) from frames of θ0 at ``temperature`` K with
    per-atom descriptors ``per_atom`` (F, N, K)."""
    b = np.asarray(per_atom, dtype=float)
    n_frames, n = b.shape[:2]
    th = np.atleast_2d(np.asarray(thetas, dtype=float))
    e0, g0 = spec.model.energies_and_gradients(b, spec.theta0)
    beta = 1.0 / (KB * temperature)
    out = {k: np.empty(len(th)) for k in ("c", "s", "e")}
    grads = np.empty_like(th) if gradient else None
    for m, theta in enumerate(th):
        step = theta - spec.theta0
        if gradient:
            e, g = spec.model.energies_and_gradients(b, theta)
            grads[m] = (g - g0).mean(axis=0) / n
        else:
            e = spec.model.energies(b, theta)
        lin_shift = g0 @ step  # N δθ·J per frame, eV
        delta = e - e0 - lin_shift
        out["c"][m] = delta.mean() / n
        out["s"][m] = delta.std(ddof=1) / np.sqrt(n_frames) / n if n_frames > 1 else np.inf
        dd, dl = delta - delta.mean(), lin_shift - lin_shift.mean()
        k2, k3 = np.mean(dd * dl), np.mean(dd * dl * dl)
        out["e"][m] = (beta * (0.5 * delta.var() + abs(k2)) + 0.5 * beta**2 * abs(k3)) / n
    return Curvature(out["c"], out["s"], out["e"], grads, float(temperature), n_frames)
