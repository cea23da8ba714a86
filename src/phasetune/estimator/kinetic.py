"""The shell measure of kinetic (NVE) isosurfaces, from the campaign itself (method.md §4.5).

Shell α is the energy surface H_ref − N·E0_ref = Nε of the reference, ε = ω̄e^α (eV/atom, kinetic
energy included).  With d_K = 3N − 3 momenta (total momentum zero) the microcanonical density of
states is Ω(E) ∝ ∫dq (E − U(q))^{d_K/2 − 1}, whose exact inverse temperature is

    β(E) = ∂ln Ω/∂E = (d_K/2 − 1)⟨1/K⟩_E = (d_K/2 − 1)⟨1/k⟩_E / N      (K = Nk, total).

The saddle runs over α = ln(ε/ω̄), so the measure per atom is s_ref(α) = (1/N) ln[E Ω(E)],
E = Nε (the factor E from dE = E dα), with slope

    g(α) = ds_ref/dα = 1/N + ε (d_K/2 − 1)⟨1/k⟩_ε / N     (harmonic: exactly n/N = 3 − 3/N).

g is fitted over the shells as a weighted least-squares polynomial of low degree in
t = (α − α_c)/α_h (weights 1/σ_i², σ_i from the per-batch ⟨1/k⟩) and integrated analytically:

    s_ref(α) = s_H(α_1) + c_1 + ∫_{α_1}^{α} g dα',

anchored at the lowest shell α_1 on the harmonic microcanonical entropy of the Hessian,
s_H(α) = r_n[ln(ω̄e^α/(r_n ħΩ_g)) + 1] (r_n = n/N, :func:`~phasetune.model.harmonic.
microcanonical_entropy`), with the first-order anharmonic correction c_1 = g(α_1) − r_n
(exact when g − r_n ∝ ε below α_1).  The fit covariance gives σ of s_ref(α).  Another mode count
r (method.md §3) adds the harmonic difference s_H^{(r)}(α) − s_H^{(r_n)}(α) = const + (r − r_n)α,
as the harmonic route changes the slope of its shell measure from r_n/2 to r/2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import KB
from ..conventions import Conventions
from ..errors import EstimatorError
from ..model import PhaseVolume
from ..model.harmonic import microcanonical_entropy
from ..model.shells import inverse_kinetic_mean

DEFAULT_DEGREE = 2
"""Polynomial degree of the fit of g(α) = ds_ref/dα."""

PREDATES = ("re-sample: this kinetic archive predates the ⟨1/K⟩ shell record "
            "(shells/<k>/inv_kinetic), which the kinetic estimator needs")


@dataclass
class ReferenceEntropy:
    """s_ref(α) per atom of one (phase, volume) of kinetic shells, under a mode convention.

    Attributes:
        alphas: (n_α,) shell labels; g, g_sigma: (n_α,) measured slopes and their σ.
        centre, half: the fit variable t = (α − centre)/half.
        coef, cov: (P+1,) monomial coefficients of g(t) and their covariance (Birge-scaled).
        birge: max(1, (χ²/dof)^{1/2}) of the fit.
        anchor: s_H^{(r_n)}(α_1); correction: c_1 = g(α_1) − r_n (0 if not applied) and its σ.
        r_native: n/N; r: the convention's modes per atom; offset, slope: the convention term
            const + (r − r_n)α.
        omega_bar: ω̄, eV/Å² (ε = ω̄e^α).
    """

    alphas: np.ndarray
    g: np.ndarray
    g_sigma: np.ndarray
    centre: float
    half: float
    coef: np.ndarray
    cov: np.ndarray
    birge: float
    anchor: float
    correction: float
    correction_sigma: float
    apply_correction: bool
    r_native: float
    r: float
    offset: float
    slope: float
    omega_bar: float

    def _t(self, alpha):
        return (np.asarray(alpha, dtype=float) - self.centre) / self.half

    def design(self, alpha) -> np.ndarray:
        """J(α) (…, P+1): s_ref(α) = const + J(α)·coef."""
        t, t1 = self._t(alpha)[..., None], self._t(self.alphas[0])
        p = np.arange(self.coef.size)
        j = self.half * (t ** (p + 1) - t1 ** (p + 1)) / (p + 1)
        if self.apply_correction:
            j = j + t1**p
        return j

    def constant(self, alpha) -> np.ndarray:
        a = np.asarray(alpha, dtype=float)
        return (self.anchor - (self.r_native if self.apply_correction else 0.0)
                + self.offset + self.slope * a)

    def value(self, alpha) -> np.ndarray:
        """s_ref(α) per atom (dimensionless) in the convention's mode count."""
        return self.constant(alpha) + self.design(alpha) @ self.coef

    def sigma(self, alpha) -> np.ndarray:
        """σ of s_ref(α) from the fit covariance."""
        j = self.design(alpha)
        return np.sqrt(np.clip(np.einsum("...p,pq,...q->...", j, self.cov, j), 0.0, None))

    def fitted_slope(self, alpha) -> np.ndarray:
        """g(α) of the fit (native mode count)."""
        t = self._t(alpha)
        return np.polynomial.polynomial.polyval(t, self.coef)

    def derivative(self, alpha) -> np.ndarray:
        """ds_ref/dα in the convention's mode count."""
        return self.fitted_slope(alpha) + self.slope

    def temperature(self, alpha) -> np.ndarray:
        """Shell temperature 1/(k_B β(ε)), K, with β = ds_ref/dε = (ds_ref/dα)/ε."""
        eps = self.omega_bar * np.exp(np.asarray(alpha, dtype=float))
        return eps / (KB * self.derivative(alpha))

    def measure(self) -> np.ndarray:
        """(centre, half, m_0, …, m_{P+1}): s_ref as a polynomial in t for the saddle solver."""
        n = self.coef.size
        m = np.zeros(n + 1)
        t1 = self._t(self.alphas[0])
        m[0] = self.anchor - (self.r_native if self.apply_correction else 0.0) + self.offset \
            + self.slope * self.centre
        m[1] = self.slope * self.half
        for p in range(n):
            m[0] += self.coef[p] * ((t1**p if self.apply_correction else 0.0)
                                    - self.half * t1 ** (p + 1) / (p + 1))
            m[p + 1] += self.coef[p] * self.half / (p + 1)
        return np.concatenate([[self.centre, self.half], m])

    def summary(self) -> dict:
        return {"anchor_alpha": float(self.alphas[0]), "anchor": self.anchor,
                "anchor_correction": self.correction,
                "anchor_correction_sigma": self.correction_sigma,
                "anchor_correction_applied": self.apply_correction,
                "slope_fit_birge": self.birge, "slope_fit_degree": int(self.coef.size - 1),
                "g_native": self.r_native}


def shell_slopes(phase_volume: PhaseVolume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(α, g, σ_g) per shell, sorted by α: g = 1/N + ε(d_K/2 − 1)⟨1/k⟩/N, d_K = 3N − 3."""
    ref = phase_volume.reference
    n_atoms = ref.n_atoms
    d_k = 3 * n_atoms - 3
    shells = sorted(phase_volume.shells, key=lambda s: s.alpha)
    alphas = np.array([s.alpha for s in shells])
    g, sig = np.empty(alphas.size), np.empty(alphas.size)
    for i, s in enumerate(shells):
        try:
            mean, var = inverse_kinetic_mean(s)
        except ValueError:
            raise EstimatorError(PREDATES) from None
        eps = ref.omega_bar * np.exp(s.alpha)
        factor = eps * (0.5 * d_k - 1.0) / n_atoms
        g[i] = 1.0 / n_atoms + factor * mean
        sig[i] = factor * np.sqrt(var)
    return alphas, g, sig


def reference_entropy(phase_volume: PhaseVolume, conventions: Conventions,
                      degree: int = DEFAULT_DEGREE,
                      anchor_correction: bool = True) -> ReferenceEntropy:
    """Fit g(α) over the kinetic shells and build s_ref (module docstring)."""
    ref = phase_volume.reference
    alphas, g, sig = shell_slopes(phase_volume)
    if alphas.size < 3:
        raise EstimatorError(f"{alphas.size} kinetic shells: at least 3 are needed")
    if not np.all(sig > 0):
        raise EstimatorError("a kinetic shell has no ⟨1/k⟩ spread (too few samples)",
                             "sample more per shell")
    degree = int(min(degree, alphas.size - 2))
    centre, half = 0.5 * (alphas[0] + alphas[-1]), 0.5 * (alphas[-1] - alphas[0])
    t = (alphas - centre) / half
    design = np.vander(t, degree + 1, increasing=True)
    wdesign = design / sig[:, None]
    normal = wdesign.T @ wdesign
    cov = np.linalg.inv(normal)
    coef = cov @ (wdesign.T @ (g / sig))
    dof = alphas.size - (degree + 1)
    chi2 = float(np.sum(((design @ coef - g) / sig) ** 2))
    birge = max(1.0, np.sqrt(chi2 / dof)) if dof > 0 else 1.0
    cov = cov * birge**2
    r_n = ref.n_modes / ref.n_atoms
    r = ref.modes_per_atom(conventions)
    anchor = float(microcanonical_entropy(ref.omega_bar * np.exp(alphas[0]), ref.omega, ref.mass,
                                          r_n))
    # convention term s_H^{(r)}(α) − s_H^{(r_n)}(α) = offset + (r − r_n)α
    e1 = ref.omega_bar
    offset = float(microcanonical_entropy(e1, ref.omega, ref.mass, r)
                   - microcanonical_entropy(e1, ref.omega, ref.mass, r_n))
    j1 = design[0]
    corr = float(j1 @ coef - r_n)
    corr_sigma = float(np.sqrt(max(j1 @ cov @ j1, 0.0)))
    return ReferenceEntropy(alphas, g, sig, centre, half, coef, cov, birge, anchor, corr,
                            corr_sigma, bool(anchor_correction), r_n, r, offset, r - r_n,
                            ref.omega_bar)
