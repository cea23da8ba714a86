"""F(θ, V, T) of one phase as a smooth function of the volume per atom (method.md §8, Pressure).

The free energies F_i = F(θ, V_i, T) at the sampled volumes V_1 < … < V_n are fitted by least
squares with a polynomial in the Birch–Murnaghan strain variable x = (V/V_c)^(−2/3) (V_c the mean
sampled volume), centred and scaled to u = (x − x̄)/h on the sampled x (x̄ their mean, h their
half-range) so that the design matrix is well conditioned:

    F(V) = Σ_{k=0..d} c_k u(V)^k,   c = A⁺F,   A_ik = u(V_i)^k,

so F(V) = w(V)·F with fixed weights w(V) = φ(V)ᵀA⁺ that depend on the volumes only.  Everything
derived from the surface (P = −∂F/∂V, ∂²F/∂V², the entropy and ∂F/∂θ at any V) is the same linear
map applied to the per-volume values, which keeps ∂F/∂θ exact and the noise propagation explicit:

    Var F(V) = Σ_i w_i(V)² σ_i².

The lack of fit is measured by χ² = Σ_i (F_i − F(V_i))²/σ_i² with n − d − 1 degrees of freedom; a
Birge ratio R = (χ²/dof)^{1/2} > 1 widens every propagated σ by R (the same rule as the α smoother,
method.md §7.8).  With n = d + 1 volumes the fit interpolates and its error cannot be measured;
:attr:`VolumeBasis.dof` says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import PhasetuneError

MAX_DEGREE = 3
"""Default (and advised largest) degree of the polynomial in x = (V/V_c)^(−2/3)."""
VOLUME_RTOL = 1e-9
"""Volumes per atom closer than this (relative) are the same volume."""


def default_degree(n_volumes: int) -> int:
    """min(3, n − 2) so that the lack of fit is measurable, but at least 2 (a straight line in x
    has no minimum: P never vanishes) and at most n − 1: 2 volumes → 1, 3–4 → 2, ≥ 5 → 3."""
    return min(MAX_DEGREE, max(2, n_volumes - 2), n_volumes - 1)


@dataclass(frozen=True)
class VolumeBasis:
    """The linear maps from per-volume values to the fitted surface and its V derivatives.

    Attributes:
        volumes: (n_V,) sampled volumes per atom, increasing, Å³/atom.
        degree: polynomial degree d in u = (x − x̄)/h, x = (V/V_c)^(−2/3).
        v_scale: V_c, Å³/atom.
        x_mean, x_half: x̄ and h.
        pinv: (d + 1, n_V) least-squares solution operator A⁺.
    """

    volumes: np.ndarray
    degree: int
    v_scale: float
    x_mean: float
    x_half: float
    pinv: np.ndarray

    @classmethod
    def from_volumes(cls, volumes, degree: int | None = None) -> VolumeBasis:
        """The basis for sampled volumes (Å³/atom); ``degree`` default :func:`default_degree`."""
        v = np.asarray(volumes, dtype=float)
        if v.ndim != 1 or v.size < 2:
            raise PhasetuneError(
                f"a free-energy surface in V needs at least two volumes, got {v.size}",
                "sample the phase at several volumes (campaign 'volumes:', e.g. "
                "{around: equilibrium, span: [-4 %, +6 %], count: 7})")
        if np.any(~np.isfinite(v)) or np.any(v <= 0):
            raise PhasetuneError(f"volumes must be positive and finite, got {v.tolist()}")
        if np.any(np.diff(v) <= VOLUME_RTOL * v[1:]):
            raise PhasetuneError(f"volumes must be distinct and increasing, got {v.tolist()}")
        d = default_degree(v.size) if degree is None else int(degree)
        if not 1 <= d <= v.size - 1:
            raise PhasetuneError(f"volume degree {d} needs 1 ≤ d ≤ n_volumes − 1 = {v.size - 1}",
                                 "lower the degree or sample more volumes")
        v_scale = float(v.mean())
        x = cls._x(v, v_scale)
        x_mean, x_half = float(x.mean()), float(0.5 * (x.max() - x.min()))
        design = ((x - x_mean) / x_half)[:, None] ** np.arange(d + 1)
        return cls(v, d, v_scale, x_mean, x_half, np.linalg.pinv(design))

    @staticmethod
    def _x(volume, v_scale: float) -> np.ndarray:
        r = np.cbrt(np.asarray(volume, dtype=float) / v_scale)
        return 1.0 / (r * r)

    @property
    def n_volumes(self) -> int:
        return self.volumes.size

    @property
    def dof(self) -> int:
        """Degrees of freedom of the lack-of-fit test (0: the fit interpolates)."""
        return self.n_volumes - self.degree - 1

    @property
    def v_min(self) -> float:
        return float(self.volumes[0])

    @property
    def v_max(self) -> float:
        return float(self.volumes[-1])

    def coefficients(self, values: np.ndarray) -> np.ndarray:
        """c = A⁺F for values (n_V, ...) → (d + 1, ...)."""
        return np.tensordot(self.pinv, values, axes=(1, 0))

    def evaluate(self, coefficients: np.ndarray, volume: np.ndarray, order: int = 0) \
            -> np.ndarray:
        """∂^order F/∂V^order (order 0, 1, 2) at ``volume`` (broadcast against the trailing
        shape of ``coefficients`` (d + 1, ...))."""
        basis = self.basis(volume, order)
        return np.einsum("...k,k...->...", basis, coefficients)

    def basis(self, volume, order: int = 0) -> np.ndarray:
        """φ(V) or its V derivatives, (..., d + 1) for volumes of any shape."""
        if order not in (0, 1, 2):
            raise ValueError(f"order must be 0, 1 or 2, got {order}")
        v = np.asarray(volume, dtype=float)
        x = self._x(v, self.v_scale)
        u = (x - self.x_mean) / self.x_half
        d = self.degree
        xk = np.empty(x.shape + (d + 1,))   # powers of u
        xk[..., 0] = 1.0
        for k in range(1, d + 1):
            xk[..., k] = xk[..., k - 1] * u
        if order == 0:
            return xk
        # u′ = x′/h, u″ = x″/h with x′ = −(2/3)x/V, x″ = (10/9)x/V²
        dx = (-2.0 / 3.0) * x / v / self.x_half
        out = np.zeros_like(xk)
        if order == 1:
            for k in range(1, d + 1):
                out[..., k] = k * xk[..., k - 1] * dx
            return out
        d2x = (10.0 / 9.0) * x / (v * v) / self.x_half
        for k in range(1, d + 1):
            out[..., k] = k * xk[..., k - 1] * d2x
            if k >= 2:
                out[..., k] += k * (k - 1) * xk[..., k - 2] * dx * dx
        return out

    def slopes(self, coefficients: np.ndarray, volume: np.ndarray) \
            -> tuple[np.ndarray, np.ndarray]:
        """(∂F/∂V, ∂²F/∂V²) for coefficient columns (d + 1, n) at volumes (n,), by Horner's
        rule (the fast path of the V* solve)."""
        v = np.asarray(volume, dtype=float)
        x = self._x(v, self.v_scale)
        u = (x - self.x_mean) / self.x_half
        s1 = np.zeros_like(x)
        s2 = np.zeros_like(x)
        for k in range(self.degree, 0, -1):   # Σ k c_k u^(k−1), Σ k(k−1) c_k u^(k−2)
            s1 = s1 * u + k * coefficients[k]
            if k >= 2:
                s2 = s2 * u + k * (k - 1) * coefficients[k]
        du = (-2.0 / 3.0) * x / v / self.x_half
        return s1 * du, s2 * du * du + s1 * (10.0 / 9.0) * x / (v * v) / self.x_half

    def weights(self, volume, order: int = 0) -> np.ndarray:
        """w(V) with ∂^order F(V)/∂V^order = w(V)·F, (..., n_V)."""
        return self.basis(volume, order) @ self.pinv

    def birge_ratio(self, values: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """max(1, (χ²/dof)^{1/2}) for values and σ (n_V, ...); ones when dof = 0 or σ unknown."""
        shape = np.shape(values)[1:]
        if self.dof == 0:
            return np.ones(shape)
        fitted = np.tensordot(self.weights(self.volumes), values, axes=(1, 0))
        sig = np.where(np.isfinite(sigma) & (sigma > 0), sigma, np.nan)
        chi2 = np.sum(((values - fitted) / sig) ** 2, axis=0)
        ratio = np.sqrt(chi2 / self.dof)
        return np.where(np.isfinite(ratio), np.maximum(ratio, 1.0), 1.0)
