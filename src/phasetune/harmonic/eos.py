"""The static equation of state E(V) of a crystal: a third-order Birch–Murnaghan fit.

Third-order Birch–Murnaghan is exactly a cubic polynomial in x = V^(-2/3), so the fit is linear
least squares: E(V) = c0 + c1 x + c2 x² + c3 x³.  Everything here is per atom: V in Å³/atom,
E in eV/atom, P and B in eV/Å³ (convert with :data:`phasetune.constants.GPA_TO_EV_PER_A3`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.polynomial import Polynomial
from scipy.optimize import brentq

from ..errors import PhasetuneError

MIN_POINTS = 5
"""Fewest (V, E) points accepted by :func:`fit_birch_murnaghan` (4 coefficients + 1)."""


@dataclass(frozen=True)
class BirchMurnaghan:
    """E(V) = Σ_k c_k V^(-2k/3), k = 0…3, fitted on ``v_range``.

    Attributes:
        coefficients: (4,) c_k, eV/atom (c_k multiplies x^k, x = V^(-2/3) in Å⁻²).
        v_range: (V_min, V_max) of the fitted points, Å³/atom.
        rms: root-mean-square residual of the fit, eV/atom.
    """

    coefficients: np.ndarray
    v_range: tuple[float, float]
    rms: float

    @property
    def _poly(self) -> Polynomial:
        return Polynomial(self.coefficients)

    def energy(self, volume: np.ndarray | float) -> np.ndarray:
        """E(V), eV/atom."""
        return self._poly(np.asarray(volume, dtype=float) ** (-2.0 / 3.0))

    def pressure(self, volume: np.ndarray | float) -> np.ndarray:
        """P = −dE/dV, eV/Å³."""
        x = np.asarray(volume, dtype=float) ** (-2.0 / 3.0)
        return 2.0 / 3.0 * x ** 2.5 * self._poly.deriv()(x)

    def bulk_modulus(self, volume: np.ndarray | float) -> np.ndarray:
        """B = −V dP/dV, eV/Å³."""
        x = np.asarray(volume, dtype=float) ** (-2.0 / 3.0)
        d1, d2 = self._poly.deriv(1)(x), self._poly.deriv(2)(x)
        return 4.0 / 9.0 * (2.5 * x ** 2.5 * d1 + x ** 3.5 * d2)

    def bulk_modulus_derivative(self, volume: np.ndarray | float) -> np.ndarray:
        """B' = dB/dP (dimensionless)."""
        x = np.asarray(volume, dtype=float) ** (-2.0 / 3.0)
        d1, d2, d3 = (self._poly.deriv(k)(x) for k in (1, 2, 3))
        db_dx = 4.0 / 9.0 * (6.25 * x ** 1.5 * d1 + 6.0 * x ** 2.5 * d2 + x ** 3.5 * d3)
        dp_dx = 2.0 / 3.0 * (2.5 * x ** 1.5 * d1 + x ** 2.5 * d2)
        return db_dx / dp_dx

    @property
    def v0(self) -> float:
        """Volume of the energy minimum (P = 0), Å³/atom."""
        return self.volume_at(0.0)

    def volume_at(self, pressure: float, thermal: float = 0.0) -> float:
        """The volume on the stable branch (B > 0) where P(V) + thermal·/V = ``pressure``.

        Args:
            pressure: eV/Å³.
            thermal: a thermal pressure coefficient, eV/atom: the total pressure is
                P(V) + thermal/V (for a constant Grüneisen γ, thermal = r k_B T γ).

        Raises:
            PhasetuneError: no such volume within 0.5–2 × the fitted range (a pressure beyond
                the spinodal of the fit).
        """
        lo, hi = self.v_range
        grid = np.geomspace(0.5 * lo, 2.0 * hi, 801)
        residual = self.pressure(grid) + thermal / grid - pressure
        stable = self.bulk_modulus(grid) > 0
        cross = np.flatnonzero((np.sign(residual[:-1]) != np.sign(residual[1:]))
                               & stable[:-1] & stable[1:])
        if cross.size == 0:
            raise PhasetuneError(
                f"the equation of state fitted on {lo:.4g}–{hi:.4g} Å³/atom reaches no stable "
                f"volume at P = {pressure:.4g} eV/Å³", "ask for a smaller pressure range")
        centre = np.sqrt(lo * hi)
        k = cross[np.argmin(np.abs(np.log(grid[cross] / centre)))]
        return float(brentq(lambda v: self.pressure(v) + thermal / v - pressure,
                            grid[k], grid[k + 1], xtol=1e-12))


def fit_birch_murnaghan(volumes: np.ndarray, energies: np.ndarray) -> BirchMurnaghan:
    """Least-squares third-order Birch–Murnaghan fit of E(V).

    Args:
        volumes: (n,) Å³/atom, n ≥ MIN_POINTS, distinct.
        energies: (n,) eV/atom.

    Raises:
        PhasetuneError: too few points, or no energy minimum with B > 0 near the points.
    """
    v = np.asarray(volumes, dtype=float)
    e = np.asarray(energies, dtype=float)
    if v.shape != e.shape or v.ndim != 1 or len(np.unique(v)) < MIN_POINTS:
        raise PhasetuneError(f"an equation-of-state fit needs ≥ {MIN_POINTS} distinct volumes "
                             f"with one energy each (got {v.size} volumes, {e.size} energies)")
    x = v ** (-2.0 / 3.0)
    poly = Polynomial.fit(x, e, 3).convert()
    coefficients = np.zeros(4)
    coefficients[:len(poly.coef)] = poly.coef
    rms = float(np.sqrt(np.mean((poly(x) - e) ** 2)))
    return BirchMurnaghan(coefficients, (float(v.min()), float(v.max())), rms)
