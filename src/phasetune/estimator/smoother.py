"""The α smoother: a fixed linear operator from shell values h_i to a smooth h(α) (method.md §7,
precompute step 3; pitfall §11.4).

h(α) ≈ e^α Σ_{p≤P} c_p P_p(t),  t = (α − α_mid)/half-range,  c = B⁺ (e^{−α_i} h_i),

a least-squares Legendre series of degree P ≤ 5 in the scaled label t, fitted to e^{−α_i}h_i.  The
factor e^α makes the harmonic energy term βω̄e^α/2 (and any term linear in e^α, the leading
behaviour of βθ·(μ(α) − D0)) exact, so the harmonic identities of §10.1 and §10.4 hold to
rounding.  B⁺ is the QR pseudo-inverse of the (n_α × P+1) Legendre design matrix, which is
well conditioned for scaled t ∈ [−1, 1] (unlike raw monomials of α).

So (Lh)(α) = w(α)·h with weights w(α) = e^α b(t(α))ᵀ B⁺ diag(e^{−α_i}), and derivatives in α
follow from those of the basis.
"""

from __future__ import annotations

import numpy as np
from numpy.polynomial import legendre

from ..errors import EstimatorError

DEFAULT_DEGREE = 4


class AlphaSmoother:
    """Least-squares e^α-weighted Legendre smoother over the shell labels ``alphas``.

    Args:
        alphas: (n_α,) shell labels, strictly increasing.
        degree: P; reduced to n_α − 1 if there are too few shells.
    """

    def __init__(self, alphas: np.ndarray, degree: int = DEFAULT_DEGREE):
        a = np.asarray(alphas, dtype=float)
        if a.ndim != 1 or a.size < 2 or np.any(np.diff(a) <= 0):
            raise EstimatorError("shell labels α must be ≥ 2 strictly increasing values",
                                 "sort the shells and drop duplicates")
        self.alphas = a
        self.degree = int(min(degree, a.size - 1))
        self.mid = 0.5 * (a[0] + a[-1])
        self.half = 0.5 * (a[-1] - a[0])
        design = legendre.legvander(self.scaled(a), self.degree)
        q, r = np.linalg.qr(design)
        self.condition = float(np.linalg.cond(r))
        if self.condition > 1e8:
            raise EstimatorError(f"α smoother is ill-conditioned (cond = {self.condition:.3g})",
                                 "use a lower smoother degree or more shells")
        # coefficient operator: c = C h, C = R⁻¹ Qᵀ diag(e^{−α_i})
        self.coefficient_operator = np.linalg.solve(r, q.T) * np.exp(-a)[None, :]
        n = self.degree + 1
        eye = np.eye(n)
        self._d1 = np.array([np.pad(legendre.legder(row), (0, n))[:n] for row in eye])
        self._d2 = np.array([np.pad(legendre.legder(row, 2), (0, n))[:n] for row in eye])
        self.to_monomial = np.array([np.pad(legendre.leg2poly(row), (0, n))[:n] for row in eye])
        """(P+1, P+1): Legendre coefficients @ to_monomial = monomial coefficients in t."""

    def scaled(self, alpha: np.ndarray) -> np.ndarray:
        """t = (α − α_mid)/half-range."""
        return (np.asarray(alpha, dtype=float) - self.mid) / self.half

    def basis(self, alpha: np.ndarray, deriv: int = 0) -> np.ndarray:
        """d^k/dα^k of b_p(α) = e^α P_p(t(α)), k = deriv ∈ {0, 1, 2}; shape alpha.shape + (P+1,)."""
        alpha = np.asarray(alpha, dtype=float)
        v = legendre.legvander(self.scaled(alpha), self.degree)
        out = v.copy()
        if deriv >= 1:
            v1 = v @ self._d1.T / self.half
            out = out + (2.0 if deriv == 2 else 1.0) * v1
            if deriv == 2:
                out = out + v @ self._d2.T / self.half**2
        elif deriv != 0:
            raise ValueError("deriv must be 0, 1 or 2")
        return out * np.exp(alpha)[..., None]

    def weights(self, alpha: np.ndarray, deriv: int = 0) -> np.ndarray:
        """w(α) (or its α-derivatives): (Lh)(α) = w(α)·h; shape alpha.shape + (n_α,)."""
        return self.basis(alpha, deriv) @ self.coefficient_operator

    def operator(self, alpha_dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The fixed linear operator L (n_dense × n_α) and its α-derivative L′."""
        return self.weights(alpha_dense), self.weights(alpha_dense, 1)
