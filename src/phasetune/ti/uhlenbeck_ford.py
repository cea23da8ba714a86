"""The Uhlenbeck–Ford (UF) reference fluid and the ideal gas: the anchors of liquid TI.

The UF pair potential (LAMMPS ``pair_style ufm``) is

    φ(r) = −ε ln(1 − e^{−r²/σ²}),        ε = p·k_BT,

purely repulsive, logarithmically divergent at r → 0 and Gaussian-fast decaying beyond σ.  Its
Boltzmann factor e^{−βφ} = (1 − e^{−r²/σ²})^p does not depend on T, so the excess free energy of
the UF fluid in units of k_BT depends only on p, the reduced density x = bρ
(b = (πσ²)^{3/2}/2), N and the cutoff.  The Mayer function f = e^{−βφ} − 1 lies in [−1, 0]: the
λ′-integration from the ideal gas (λ′ = 0) to the full UF (λ′ = 1) has a finite integrand
everywhere, even where atoms overlap.

Second virial coefficient (exact, integer p, by the binomial expansion of (1 − e^{−r²/σ²})^p and
∫ e^{−kr²/σ²} d³r = (πσ²/k)^{3/2}):

    B2 = −½∫(e^{−βφ} − 1) d³r = b Σ_{k=1}^{p} C(p, k) (−1)^{k+1} k^{−3/2},

so that at low density the excess free energy per atom is βF_ex/N → B2 (N − 1)/V_box
(the (N − 1) counts the pairs of N atoms per atom exactly in the canonical ensemble); the next
term, with B3 = −(1/3)∫∫f₁₂f₁₃f₂₃, is in :func:`low_density_excess`.

Ideal gas of N indistinguishable atoms in V_box, per atom (exact ln N!):

    F_id = −(k_BT/N) ln[V_box^N / (N! Λ^{3N})],    Λ = (2πħ²c_u/(m k_BT))^{1/2} (Å).

Units: eV, Å, K, amu; free energies per atom (eV/atom).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal, localcontext

import numpy as np

from ..constants import CU, HBAR, KB
from ..engine.session import lammps_float
from ..errors import PhasetuneError

UF_STYLE = "ufm"
"""The LAMMPS pair style of the UF reference."""


@dataclass(frozen=True)
class UFSettings:
    """The Uhlenbeck–Ford reference.

    Attributes:
        p: ε/k_BT, dimensionless (50: soft enough to stay fluid, stiff enough to resemble a
            liquid metal's repulsion).
        sigma: length scale σ, Å.
        cutoff_sigmas: pair cutoff in units of σ (4σ: φ(4σ) = 1.1×10⁻⁷ ε, and the energy
            beyond it is < 10⁻⁵ eV/atom for liquid metals; both legs use the same truncated
            potential, so the cutoff cancels exactly).
    """

    p: float = 50.0
    sigma: float = 2.0
    cutoff_sigmas: float = 4.0

    def __post_init__(self) -> None:
        if not (self.p > 0 and self.sigma > 0 and self.cutoff_sigmas >= 3.0):
            raise PhasetuneError(
                f"invalid Uhlenbeck–Ford reference p = {self.p}, σ = {self.sigma} Å, cutoff "
                f"{self.cutoff_sigmas}σ", "use p > 0, σ > 0 Å and a cutoff of at least 3σ")

    @property
    def cutoff(self) -> float:
        """Pair cutoff, Å."""
        return self.cutoff_sigmas * self.sigma

    def epsilon(self, temperature: float) -> float:
        """ε = p·k_BT, eV."""
        return self.p * KB * float(temperature)

    def b(self) -> float:
        """b = (πσ²)^{3/2}/2, Å³ (the reduced density is x = bρ)."""
        return 0.5 * (np.pi * self.sigma**2) ** 1.5

    def commands(self, temperature: float, index: int | None = None) -> tuple[str, str]:
        """(sub-style words, ``pair_coeff`` words after the types) of the UF sub-style at T.

        ``index`` numbers the sub-style when the hybrid holds another ``ufm`` (LAMMPS then
        needs the index in ``pair_coeff`` and ``compute pair``)."""
        style = f"{UF_STYLE} {lammps_float(self.cutoff)}"
        coeff = f"{UF_STYLE}{'' if index is None else f' {index}'} " \
                f"{lammps_float(self.epsilon(temperature))} {lammps_float(self.sigma)}"
        return style, coeff

    def to_dict(self) -> dict:
        return {**asdict(self), "cutoff": self.cutoff, "b": self.b()}


def uf_potential(r: np.ndarray | float, epsilon: float, sigma: float) -> np.ndarray:
    """φ(r) = −ε ln(1 − e^{−r²/σ²}), eV (r in Å, untruncated)."""
    x = np.asarray(r, dtype=float) ** 2 / sigma**2
    return -epsilon * np.log(-np.expm1(-x))


def second_virial(p: float, sigma: float) -> float:
    """B2 of the untruncated UF fluid, Å³ (module doc).

    Integer p: the exact binomial sum, evaluated in 60-digit decimal arithmetic (its terms
    alternate and reach C(p, p/2), far beyond double precision for p ≳ 30).  Other p: adaptive
    quadrature of 2π∫[1 − (1 − e^{−r²/σ²})^p] r² dr.
    """
    b = 0.5 * (np.pi * sigma**2) ** 1.5
    if float(p).is_integer() and p >= 1:
        n = int(p)
        with localcontext() as ctx:
            ctx.prec = 60
            total = sum(Decimal(math.comb(n, k)) * (-1) ** (k + 1) / (Decimal(k) ** 3).sqrt()
                        for k in range(1, n + 1))
        return b * float(total)
    return second_virial_quadrature(p, sigma)


def second_virial_quadrature(p: float, sigma: float) -> float:
    """B2 by numerical quadrature (any p > 0), Å³: the check of :func:`second_virial`."""
    from scipy.integrate import quad

    def integrand(r: float) -> float:
        return (1.0 - (-np.expm1(-(r / sigma) ** 2)) ** p) * r * r

    value, _ = quad(integrand, 0.0, 12.0 * sigma, limit=400, epsabs=0.0, epsrel=1e-12)
    return float(2.0 * np.pi * value)


def thermal_wavelength(temperature: float, mass: float) -> float:
    """Λ = (2πħ²c_u/(m k_BT))^{1/2}, Å (mass in amu)."""
    return float(np.sqrt(2.0 * np.pi * HBAR**2 * CU / (mass * KB * temperature)))


def ideal_gas_free_energy(temperature: float, n_atoms: int, volume_box: float,
                          mass: float) -> float:
    """F_id per atom of N indistinguishable classical atoms in V_box (Å³), exact ln N!, eV/atom.
    """
    if n_atoms < 1 or volume_box <= 0 or temperature <= 0:
        raise PhasetuneError("the ideal gas needs N ≥ 1, V_box > 0 and T > 0")
    kt = KB * temperature
    lam3 = thermal_wavelength(temperature, mass) ** 3
    return float(-kt * (np.log(volume_box / lam3) - math.lgamma(n_atoms + 1) / n_atoms))


def third_virial(p: float, sigma: float, n_r: int = 2000, n_k: int = 1000) -> float:
    """B3 = −(1/3)∫∫f₁₂f₁₃f₂₃ of the untruncated UF fluid, Å⁶, by the convolution theorem:
    B3 = −(1/3)∫ f̂(k)³ d³k/(2π)³ with f̂(k) = 4π∫ f(r) sin(kr)/(kr) r² dr (both integrals on
    uniform grids, r ≤ 8σ and k ≤ 10/σ; p = 1 reproduces the exact 4b²/3^{5/2} to 10⁻¹⁵, and
    p = 50 is stable to 10⁻⁹ relative under grid refinement)."""
    r = np.linspace(0.0, 8.0 * sigma, n_r + 1)[1:]
    f = (-np.expm1(-(r / sigma) ** 2)) ** p - 1.0
    k = np.linspace(0.0, 10.0 / sigma, n_k + 1)[1:]
    kr = np.outer(k, r)
    fk = 4.0 * np.pi * (np.sinc(kr / np.pi) @ (f * r * r)) * (r[1] - r[0])
    return float(-(1.0 / 3.0) * np.sum(fk**3 * 4.0 * np.pi * k * k) * (k[1] - k[0])
                 / (2.0 * np.pi) ** 3)


def low_density_excess(temperature: float, n_atoms: int, volume_box: float,
                       settings: UFSettings, order: int = 2) -> float:
    """The UF excess free energy per atom at low density, eV/atom, for N atoms in V_box.

    Averaging Π(1 + f_ij) over the ideal gas, every tree of Mayer bonds factorises exactly in
    the periodic cell, so that, with ⟨f_ij⟩ = −2B2/V_box and ⟨f₁₂f₁₃f₂₃⟩ = −3B3/V_box²,

        βF_ex/N = −((N − 1)/2) ln(1 − 2B2/V_box) + (N − 1)(N − 2)B3/(2V_box²) + O(ρ³);

    ``order=1`` keeps the first term's leading part (N − 1)B2/V_box only."""
    n, v = n_atoms, volume_box
    b2 = second_virial(settings.p, settings.sigma)
    if order == 1:
        return float(KB * temperature * b2 * (n - 1) / v)
    b3 = third_virial(settings.p, settings.sigma)
    beta_f = -0.5 * (n - 1) * np.log1p(-2.0 * b2 / v) + (n - 1) * (n - 2) * b3 / (2.0 * v * v)
    return float(KB * temperature * beta_f)
