"""The shell measure of kinetic (NVE) isosurfaces, from the campaign itself (method.md §4.5).

Shell α is the energy surface H_ref − N·E0_ref = Nε of the reference, ε = ω̄e^α (eV/atom, kinetic
energy included).  With d_K = 3N − 3 momenta (total momentum zero) the microcanonical density of
states is Ω(E) ∝ ∫dq (E − U(q))^{d_K/2 − 1}, whose exact inverse temperature is

    β(E) = ∂ln Ω/∂E = (d_K/2 − 1)⟨1/K⟩_E = (d_K/2 − 1)⟨1/k⟩_E / N      (K = Nk, total).

The saddle runs over α = ln(ε/ω̄), so the measure per atom is s_ref(α) = (1/N) ln[E Ω(E)],
E = Nε (the factor E from dE = E dα), with slope

    g(α) = ds_ref/dα = 1/N + ε (d_K/2 − 1)⟨1/k⟩_ε / N     (harmonic: exactly n/N = 3 − 3/N).

g is fitted over the shells by weighted least squares (weights 1/σ_i², σ_i from the per-batch
⟨1/k⟩) and integrated analytically.  Two models:

* ``"power"`` (default): g = r_n + Σ_{q=1}^{Q} b_q (ε/ε_s)^q, the classical anharmonic expansion
  about the harmonic limit g → r_n (exact as ε → 0; ε_s the top shell's ε), so

      s_ref(α) = s_H(α) + Σ_q b_q (ε/ε_s)^q / q,

  anchored at ε → 0 on the harmonic microcanonical entropy of the Hessian,
  s_H(α) = r_n[ln(ω̄e^α/(r_n ħΩ_g)) + 1] (r_n = n/N, :func:`~phasetune.model.harmonic.
  microcanonical_entropy`).  The constraint g(0) = r_n makes the anchor free of noise.
* ``"log"``: g = Σ_p c_p t^p, t = (α − α_c)/α_h, anchored at the lowest shell α_1:
  s_ref(α) = s_H(α_1) + c_1 + ∫_{α_1}^{α} g dα', with the optional first-order anharmonic
  correction c_1 = g(α_1) − r_n (exact when g − r_n ∝ ε below α_1).

**TI anchor** (:class:`TIAnchor`, method.md §4.6): one free energy of the reference,
F_vib(T_a) = F(T_a) − E0 from TI, may fix the constant instead — required for a liquid (no
harmonic limit; ``"log"`` fit), optional for a crystal (it removes the integration noise from
the harmonic limit near T_a).  The saddle at θ = θ0 is exact on kinetic shells
(θ0·(D − D0) + k = ε), so −β_aF_vib = max_α[s_ref(α) − β_aε(α)]: at α_a with g(α_a) = β_aε(α_a),

      s_ref(α) = β_a(ε(α_a) − F_vib) + ∫_{α_a}^{α} g dα′,

i.e. the fitted s_ref plus a constant ``shift``, with σ² = [J(α) − J(α_a)] Cov [·]ᵀ + (β_aσ_F)²
(α_a is stationary: its own noise enters at second order).

The fit covariance (scaled by the Birge ratio) gives σ of s_ref(α).  Another mode count
r (method.md §3) adds the harmonic difference s_H^{(r)}(α) − s_H^{(r_n)}(α) = const + (r − r_n)α,
as the harmonic route changes the slope of its shell measure from r_n/2 to r/2.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..constants import KB
from ..conventions import Conventions
from ..errors import EstimatorError
from ..model import PhaseVolume
from ..model.harmonic import microcanonical_entropy
from ..model.shells import inverse_kinetic_mean

DEFAULT_DEGREE = 2
"""Degree Q of the fit of g(α) = ds_ref/dα (``"power"``: powers ε¹ … ε^Q; ``"log"``: t⁰ … t^Q)."""
MODELS = ("power", "log")


@dataclass(frozen=True)
class TIAnchor:
    """One free energy of the reference potential on a kinetic (phase, volume), from TI: the
    constant of its shell measure (method.md §4.6; required for liquids).

    Attributes:
        temperature: T_a, K.
        free_energy: F per atom, eV/atom, in the COM-fixed convention F^(3N−3) of TI (θ0, same N,
            cell and volume, β0 included; for a liquid F_phys − f_trans(V_box, N)).
        sigma: its σ, eV/atom.
        source: where it comes from (a file name and its SHA-256), for provenance.
    """

    temperature: float
    free_energy: float
    sigma: float
    source: str = ""

    def to_dict(self) -> dict:
        return {"T": self.temperature, "F": self.free_energy, "sigma": self.sigma,
                "source": self.source}

PREDATES = ("re-sample: this kinetic archive predates the ⟨1/K⟩ shell record "
            "(shells/<k>/inv_kinetic), which the kinetic estimator needs")


@dataclass
class ReferenceEntropy:
    """s_ref(α) per atom of one (phase, volume) of kinetic shells, under a mode convention:
    s_ref(α) = constant(α) + J(α)·coef (module docstring).

    Attributes:
        model: ``"power"`` or ``"log"``.
        alphas: (n_α,) shell labels; g, g_sigma: (n_α,) measured slopes and their σ.
        centre, half: t = (α − centre)/half (``"log"``); eps_scale: ε_s (``"power"``).
        coef, cov: fitted coefficients of g and their covariance (Birge-scaled).
        birge: max(1, (χ²/dof)^{1/2}) of the fit.
        anchor: s_H^{(r_n)}(α_1).
        correction, correction_sigma: the first-order anchor correction g(α_1) − r_n of the fit
            and its σ (applied only by ``"log"`` with ``apply_correction``; the ``"power"`` model
            contains it).
        r_native: n/N; r: the convention's modes per atom; offset, slope: the convention term
            const + (r − r_n)α.
        omega_bar: ω̄, eV/Å² (ε = ω̄e^α).
    """

    model: str
    alphas: np.ndarray
    g: np.ndarray
    g_sigma: np.ndarray
    centre: float
    half: float
    eps_scale: float
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
    harmonic_constant: float
    """s_H^{(r_n)}(α) = r_n α + harmonic_constant."""
    shift: float = 0.0
    """Constant added to s_ref by a TI anchor (0 without one)."""
    ti_alpha: float | None = None
    """α_a of a TI anchor (the shell whose temperature is T_a), None without one."""
    ti_sigma: float = 0.0
    """σ of the TI anchor's value β_aσ_F, added in quadrature."""

    def _t(self, alpha):
        return (np.asarray(alpha, dtype=float) - self.centre) / self.half

    def _x(self, alpha):
        return self.omega_bar * np.exp(np.asarray(alpha, dtype=float)) / self.eps_scale

    def basis(self, alpha) -> np.ndarray:
        """A(α) (…, n_coef): g(α) = r_n·[power] + A(α)·coef."""
        q = np.arange(self.coef.size)
        if self.model == "power":
            return self._x(alpha)[..., None] ** (q + 1)
        return self._t(alpha)[..., None] ** q

    def design(self, alpha) -> np.ndarray:
        """J(α) (…, n_coef): s_ref(α) = constant(α) + J(α)·coef."""
        q = np.arange(self.coef.size)
        if self.model == "power":
            return self._x(alpha)[..., None] ** (q + 1) / (q + 1)
        t, t1 = self._t(alpha)[..., None], self._t(self.alphas[0])
        j = self.half * (t ** (q + 1) - t1 ** (q + 1)) / (q + 1)
        if self.apply_correction:
            j = j + t1**q
        return j

    def constant(self, alpha) -> np.ndarray:
        a = np.asarray(alpha, dtype=float)
        if self.model == "power":
            return self.r_native * a + self.harmonic_constant + self.offset + self.slope * a
        return (self.anchor - (self.r_native if self.apply_correction else 0.0)
                + self.offset + self.slope * a)

    def value(self, alpha) -> np.ndarray:
        """s_ref(α) per atom (dimensionless) in the convention's mode count."""
        return self.constant(alpha) + self.design(alpha) @ self.coef + self.shift

    def sigma(self, alpha) -> np.ndarray:
        """σ of s_ref(α) from the fit covariance (and the TI anchor's own σ)."""
        j = self.design(alpha)
        if self.ti_alpha is not None:
            j = j - self.design(self.ti_alpha)
        var = np.einsum("...p,pq,...q->...", j, self.cov, j) + self.ti_sigma**2
        return np.sqrt(np.clip(var, 0.0, None))

    def fitted_slope(self, alpha) -> np.ndarray:
        """g(α) of the fit (native mode count)."""
        base = self.r_native if self.model == "power" else 0.0
        return base + self.basis(alpha) @ self.coef

    def derivative(self, alpha) -> np.ndarray:
        """ds_ref/dα in the convention's mode count."""
        return self.fitted_slope(alpha) + self.slope

    def temperature(self, alpha) -> np.ndarray:
        """Shell temperature 1/(k_B β(ε)), K, with β = ds_ref/dε = (ds_ref/dα)/ε."""
        eps = self.omega_bar * np.exp(np.asarray(alpha, dtype=float))
        return eps / (KB * self.derivative(alpha))

    def measure(self) -> np.ndarray:
        """s_ref for the saddle solver: (centre, half, n_c, c_0 …, d_1 …) with
        s_ref = Σ_q c_q u^q + Σ_k d_k e^{kα}, u = (α − centre)/half."""
        n = self.coef.size
        if self.model == "power":
            lin = self.r_native + self.slope
            exps = [self.coef[k] * (self.omega_bar / self.eps_scale) ** (k + 1) / (k + 1)
                    for k in range(n)]
            return np.array([0.0, 1.0, 2.0, self.harmonic_constant + self.offset + self.shift,
                             lin, *exps])
        m = np.zeros(n + 1)
        t1 = self._t(self.alphas[0])
        m[0] = self.anchor - (self.r_native if self.apply_correction else 0.0) + self.offset \
            + self.slope * self.centre + self.shift
        m[1] = self.slope * self.half
        for p in range(n):
            m[0] += self.coef[p] * ((t1**p if self.apply_correction else 0.0)
                                    - self.half * t1 ** (p + 1) / (p + 1))
            m[p + 1] += self.coef[p] * self.half / (p + 1)
        return np.concatenate([[self.centre, self.half, float(n + 1)], m])

    def summary(self) -> dict:
        ti = {} if self.ti_alpha is None else {
            "ti_anchor_alpha": self.ti_alpha, "ti_anchor_T": float(self.temperature(self.ti_alpha)),
            "ti_anchor_sigma": self.ti_sigma, "ti_anchor_shift": self.shift}
        return {"model": self.model, "anchor_alpha": float(self.alphas[0]), **ti,
                "anchor": self.anchor, "anchor_correction": self.correction,
                "anchor_correction_sigma": self.correction_sigma,
                "anchor_correction_applied": self.apply_correction or self.model == "power",
                "slope_fit_birge": self.birge, "slope_fit_degree": int(self.coef.size),
                "g_native": self.r_native}


ANCHOR_HINT = ("run TI of the reference potential at this volume (for a liquid: phasetune ti "
               "--structure liquid … --json > ti.json) and attach it (phasetune anchor ARCHIVE "
               "ti.json)")


def stored_anchor(phase_volume: PhaseVolume) -> TIAnchor | None:
    """The TI anchor attached to a (phase, volume) (``provenance["ti_anchor"]``), or None."""
    stored = phase_volume.provenance.get("ti_anchor")
    if not stored:
        return None
    return TIAnchor(float(stored["T"]), float(stored["F"]), float(stored["sigma"]),
                    str(stored.get("source", "")))


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
                      degree: int = DEFAULT_DEGREE, anchor_correction: bool = True,
                      model: str = "power", anchor: TIAnchor | None = None,
                      liquid: bool = False) -> ReferenceEntropy:
    """Fit g(α) over the kinetic shells and build s_ref (module docstring), its constant from
    the harmonic limit or from a TI ``anchor``; a ``liquid`` (no harmonic limit) needs one."""
    if model not in MODELS:
        raise EstimatorError(f"unknown kinetic measure model {model!r}", "use 'power' or 'log'")
    ref = phase_volume.reference
    alphas, g, sig = shell_slopes(phase_volume)
    if alphas.size < 3:
        raise EstimatorError(f"{alphas.size} kinetic shells: at least 3 are needed")
    if not np.all(sig > 0):
        raise EstimatorError("a kinetic shell has no ⟨1/k⟩ spread (too few samples)",
                             "sample more per shell")
    r_n = ref.n_modes / ref.n_atoms
    r = ref.modes_per_atom(conventions)
    if liquid:
        r_n = r = (3.0 * ref.n_atoms - 3.0) / ref.n_atoms
        if conventions.modes != "3N-3":
            raise EstimatorError(
                f"a liquid's free energy is defined in the COM-fixed convention (modes 3N-3), "
                f"not {conventions.modes!r}", "use Conventions(modes='3N-3') (--modes 3N-3)")
    centre, half = 0.5 * (alphas[0] + alphas[-1]), 0.5 * (alphas[-1] - alphas[0])
    eps = ref.omega_bar * np.exp(alphas)
    if model == "power":
        n_coef = int(min(max(degree, 1), alphas.size - 1))
        design = (eps / eps[-1])[:, None] ** np.arange(1, n_coef + 1)
        target = g - r_n
    else:
        n_coef = int(min(degree, alphas.size - 2)) + 1
        design = ((alphas - centre) / half)[:, None] ** np.arange(n_coef)
        target = g
    wdesign = design / sig[:, None]
    cov = np.linalg.inv(wdesign.T @ wdesign)
    coef = cov @ (wdesign.T @ (target / sig))
    dof = alphas.size - n_coef
    chi2 = float(np.sum(((design @ coef - target) / sig) ** 2))
    birge = max(1.0, np.sqrt(chi2 / dof)) if dof > 0 else 1.0
    cov = cov * birge**2
    s_anchor = float(microcanonical_entropy(eps[0], ref.omega, ref.mass, r_n))
    harmonic_constant = float(microcanonical_entropy(ref.omega_bar, ref.omega, ref.mass, r_n))
    # convention term s_H^{(r)}(α) − s_H^{(r_n)}(α) = offset + (r − r_n)α
    offset = float(microcanonical_entropy(ref.omega_bar, ref.omega, ref.mass, r)) \
        - harmonic_constant
    j1 = design[0]
    corr = float(j1 @ coef - (0.0 if model == "power" else r_n))
    corr_sigma = float(np.sqrt(max(j1 @ cov @ j1, 0.0)))
    measure = ReferenceEntropy(model, alphas, g, sig, centre, half, float(eps[-1]), coef, cov,
                               birge, s_anchor, corr, corr_sigma, bool(anchor_correction), r_n,
                               r, offset, r - r_n, ref.omega_bar, harmonic_constant)
    if anchor is None:
        if liquid:
            raise EstimatorError(f"liquid phase {ref.phase!r} at {ref.volume:g} Å³/atom has no "
                                 "free-energy anchor: its shells give the entropy only up to a "
                                 "constant", ANCHOR_HINT)
        return measure
    return anchored(measure, anchor, ref.E0)


def anchored(measure: ReferenceEntropy, anchor: TIAnchor, e0: float) -> ReferenceEntropy:
    """``measure`` with its constant fixed by a TI anchor (module docstring): the shift makes
    the native (r_n) measure satisfy s_ref(α_a) = β_a(ε(α_a) − (F − E0)) at the shell α_a of T_a;
    the convention terms stay on top."""
    beta = 1.0 / (KB * anchor.temperature)
    alpha_a = anchor_alpha(measure, beta)
    native = measure.value(alpha_a) - measure.offset - measure.slope * alpha_a
    target = beta * (measure.omega_bar * np.exp(alpha_a) - (anchor.free_energy - e0))
    return replace(measure, shift=float(target - native), ti_alpha=alpha_a,
                   ti_sigma=beta * anchor.sigma)




def anchor_alpha(measure: ReferenceEntropy, beta: float) -> float:
    """α_a where the fitted native slope g(α) = β_a ε(α): the shell of the anchor temperature."""
    def gap(a: float) -> float:
        return float(measure.fitted_slope(a) - beta * measure.omega_bar * np.exp(a))

    lo, hi = float(measure.alphas[0]), float(measure.alphas[-1])
    if not gap(lo) > 0.0 > gap(hi):
        t_lo, t_hi = (float(measure.temperature(a)) for a in (lo, hi))
        raise EstimatorError(
            f"the TI anchor's temperature {1.0 / (KB * beta):.0f} K is outside the shells' "
            f"temperatures {t_lo:.0f}–{t_hi:.0f} K",
            "anchor with TI inside the sampled range, or sample shells around it")
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gap(mid) > 0.0 else (lo, mid)
    return 0.5 * (lo + hi)
