"""Classical harmonic free energies and the harmonic-reference shell measure (method.md §2.3, §3).

All functions are vectorised over temperature.  Units: ω in eV/Å², m in amu, T in K, energies in
eV per atom.  ``r`` is the number of vibrational modes per atom (see :mod:`phasetune.conventions`).
"""

from __future__ import annotations

import numpy as np

from ..constants import CU, HBAR, KB


def mode_frequencies(omega: np.ndarray, mass: float) -> np.ndarray:
    """Angular frequencies Ω_l = (c_u ω_l / m)^{1/2}, ps⁻¹, for eigenvalues ω_l (eV/Å²)."""
    return np.sqrt(CU * np.asarray(omega, dtype=float) / mass)


def harmonic_free_energy(
    omega: np.ndarray, mass: float, temperature: np.ndarray | float, r: float
) -> np.ndarray:
    """Classical harmonic free energy per atom above the static energy.

    F_H = r k_B T ⟨ln(ħΩ_l / k_B T)⟩, the mean over the stable modes ω_l.

    Args:
        omega: (n,) stable eigenvalues, eV/Å².
        mass: amu.
        temperature: K, scalar or (n_T,).
        r: modes per atom (3, or 3 − 3/N with n = 3N − 3 modes).

    Returns:
        (n_T,) or scalar, eV/atom.
    """
    t = np.asarray(temperature, dtype=float)
    kt = KB * t
    mean_log_hw = np.mean(np.log(HBAR * mode_frequencies(omega, mass)))
    return r * kt * (mean_log_hw - np.log(kt))


def shell_log_density(
    alpha: np.ndarray | float,
    temperature: np.ndarray | float,
    mass: float,
    omega_bar: float,
    mean_log_nu: float,
    r: float,
) -> np.ndarray:
    """Reference log-density per atom of the harmonic shell α (with momenta), S_α(α, T).

    S_α = −(r/2)[ln(r β ħ² c_u / m) + ⟨ln ν⟩ − 1 − α], dimensionless per atom.
    ``omega_bar`` is unused by the formula itself but kept so callers pass the whole reference.
    Broadcasts ``alpha`` against ``temperature``.
    """
    del omega_bar
    beta = 1.0 / (KB * np.asarray(temperature, dtype=float))
    a = np.asarray(alpha, dtype=float)
    return -0.5 * r * (np.log(r * beta * HBAR**2 * CU / mass) + mean_log_nu - 1.0 - a)


def harmonic_alpha(temperature: np.ndarray | float, omega_bar: float, r: float) -> np.ndarray:
    """Harmonic saddle α_H(T) = ln(r k_B T / ω̄): the shell a harmonic crystal occupies at T."""
    return np.log(r * KB * np.asarray(temperature, dtype=float) / omega_bar)


def shell_temperature(alpha: np.ndarray | float, omega_bar: float, r: float) -> np.ndarray:
    """T_α = ω̄ e^α / (r k_B), K: the temperature whose harmonic saddle is shell α."""
    return omega_bar * np.exp(np.asarray(alpha, dtype=float)) / (r * KB)


def com_translation_free_energy(
    temperature: np.ndarray | float, n_atoms: int, mass: float, volume_box: float, n_trans: int
) -> np.ndarray:
    """Free centre-of-mass term f_trans = −(k_BT/N) ln[(V_box/N_trans)/Λ_{Nm}³], eV/atom.

    Λ_{Nm} = (2πħ²c_u/(N m k_B T))^{1/2} Å.  Excluded from outputs by default (method.md §3).
    """
    kt = KB * np.asarray(temperature, dtype=float)
    lam = np.sqrt(2.0 * np.pi * HBAR**2 * CU / (n_atoms * mass * kt))
    return -(kt / n_atoms) * np.log((volume_box / n_trans) / lam**3)


def geometric_mode_energy(omega: np.ndarray, mass: float) -> float:
    """ħΩ_g = exp⟨ln ħΩ_l⟩, eV: the geometric mean of the mode quanta."""
    return float(np.exp(np.mean(np.log(HBAR * mode_frequencies(omega, mass)))))


def microcanonical_entropy(epsilon: np.ndarray | float, omega: np.ndarray, mass: float,
                           r: float) -> np.ndarray:
    """Harmonic microcanonical entropy per atom of total energy ε (eV/atom above the static
    energy, kinetic included), in the Stirling form consistent with the shells' saddle (§4.5):

        s_H(ε) = r [ln(ε/(r ħΩ_g)) + 1],   ħΩ_g = exp⟨ln ħΩ_l⟩,

    (1/N) ln[E Ω_H(E)] at E = Nε, Ω_H(E) = E^{d−1}/(Γ(d) Π_l ħΩ_l) for d = rN modes (d
    coordinates and d momenta), with ln Γ(d) → d ln d − d.  The measure is in ln ε, so the saddle
    max_ε[s_H(ε) − βε] = −βF_H = −r⟨ln(ħΩ_l/k_BT)⟩ holds exactly at any N."""
    eps = np.asarray(epsilon, dtype=float)
    return r * (np.log(eps / (r * geometric_mode_energy(omega, mass))) + 1.0)
