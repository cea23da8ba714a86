"""Temperature dependence at fixed volume: ⟨U⟩(T) by NVT MD and Gibbs–Helmholtz integration.

With the COM fixed (n = 3N − 3 modes, r = n/N), the mean energy per atom is
U(T) = ⟨U_θ⟩/N + (r/2)k_BT, and F(T)/T = F(T1)/T1 − ∫_{T1}^{T} U/T′² dT′ (method.md §9).
The harmonic part is integrated analytically: with F_H(T) = E0 + r k_BT⟨ln(ħΩ_l/k_BT)⟩ and the
anharmonic energy U_anh = ⟨U_θ⟩/N − E0 − (r/2)k_BT (O(T²) at low T),

    F(T) = F_H(T) + T·[(F(T1) − F_H(T1))/T1 − ∫_{T1}^{T} U_anh(T′)/T′² dT′],

the remaining integrand being smooth (trapezoid rule on the measured grid).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..constants import KB
from ..errors import PhasetuneError
from ..model import HarmonicReference
from .basin import BasinGuard
from .md import U_HARMONIC, U_THETA, CoupledMD, lammps_seed
from .stats import blocking_error, summarize_series


def sample_segment(md: CoupledMD, harmonic: HarmonicReference, lam: float, equilibration: int,
                   production: int, rng: np.random.Generator, guard: BasinGuard | None,
                   progress: Callable[[int], None] | None,
                   extra: tuple[str, ...] = ()) -> tuple[np.ndarray, dict]:
    """One equilibrium segment at coupling λ, started from an exact harmonic draw.

    The start is a normal-mode draw a_l ~ N(0, k_BT/ω_l) with Maxwell velocities (zero COM
    momentum); ``equilibration`` steps are discarded, then ``production`` steps are recorded.

    Returns:
        (records, guard diagnostics): records (n, 3 + len(extra)) hold step, U_θ, U_H (eV,
        total) and the ``extra`` variables; the diagnostics come from the quench check.
    """
    t = md.temperature
    md.set_lambda(lam)
    md.set_state(harmonic.sample_displacements(rng, t), harmonic.sample_velocities(rng, t))
    md.set_thermostat(lammps_seed(rng))
    if equilibration:
        md.run(equilibration, record=(), check=guard, progress=progress)
    records = md.run(production, record=(U_THETA, U_HARMONIC, *extra), check=guard,
                     progress=progress)
    quench = guard.check_quench(md.positions()) if guard is not None else {}
    return records, quench


def sample_energy(md: CoupledMD, harmonic: HarmonicReference, equilibration: int, production: int,
                  rng: np.random.Generator, guard: BasinGuard | None,
                  progress: Callable[[int], None] | None = None) -> dict:
    """The physical ensemble (λ = 1): ⟨U_θ⟩/N and, if recorded, ⟨D⟩, with block errors.

    Returns a dict (eV/atom): ``U`` = ⟨U_θ⟩/N and ``U_error``; ``U_anharmonic`` =
    ⟨U_θ⟩/N − E0 − (r/2)k_BT; ``E`` = U + (r/2)k_BT (total energy with kinetic); ``du`` =
    ⟨U_θ − U_H⟩/N at λ = 1; ``D``/``D_error`` (N_D bispectrum components, per atom) when the MD
    records descriptors; the equilibration summary and quench diagnostics.
    """
    n = md.n_atoms
    rec, quench = sample_segment(md, harmonic, 1.0, equilibration, production, rng, guard,
                                 progress, tuple(md.descriptor_variables))
    u = summarize_series(rec[:, 1] / n)
    du = summarize_series((rec[:, 1] - rec[:, 2]) / n)
    half_r_kt = 0.5 * harmonic.modes_per_atom() * KB * md.temperature
    out = {"U": u.mean, "U_error": u.error, "U_anharmonic": u.mean - harmonic.E0 - half_r_kt,
           "E": u.mean + half_r_kt, "du": du.mean, "du_error": du.error,
           "series": u.to_dict(), "quench": quench}
    if md.descriptor_variables:
        d = rec[u.discarded:, 3:]
        out["D"] = d.mean(axis=0).tolist()
        out["D_error"] = [blocking_error(col) for col in d.T]
    return out


def gibbs_helmholtz(temperatures: np.ndarray, u_anharmonic: np.ndarray,
                    u_error: np.ndarray, anchor_index: int, f_anchor: float,
                    f_anchor_error: float, harmonic: HarmonicReference,
                    r: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """F(T) at every temperature from one anchor by Gibbs–Helmholtz integration (module doc).

    Args:
        temperatures: (n_T,) K, strictly increasing.
        u_anharmonic: (n_T,) U_anh per atom, eV/atom (from :func:`sample_energy`).
        u_error: (n_T,) its standard errors, eV/atom.
        anchor_index: index of the anchor temperature T1.
        f_anchor: F(T1) in eV/atom, in the convention of ``r``.
        f_anchor_error: its standard error.
        harmonic: the harmonic reference (E0, modes) giving F_H.
        r: modes per atom of F (default n/N, the COM-fixed count).

    Returns:
        (F, σ_F), each (n_T,) eV/atom; σ combines the anchor and the trapezoid-weighted U errors.
    """
    t = np.asarray(temperatures, dtype=float)
    if np.any(np.diff(t) <= 0):
        raise PhasetuneError("Gibbs–Helmholtz integration needs strictly increasing temperatures")
    y = np.asarray(u_anharmonic, dtype=float) / t**2
    sy = np.asarray(u_error, dtype=float) / t**2
    f_h = harmonic.free_energy(t, r)
    f = np.empty_like(t)
    sigma = np.empty_like(t)
    a = anchor_index
    for i in range(len(t)):
        lo, hi = sorted((a, i))
        weights = np.zeros_like(t)
        dt = np.diff(t[lo:hi + 1])
        weights[lo:hi] += 0.5 * dt
        weights[lo + 1:hi + 1] += 0.5 * dt
        sign = 1.0 if i >= a else -1.0
        integral = sign * float(weights @ y)
        f[i] = f_h[i] + t[i] * ((f_anchor - f_h[a]) / t[a] - integral)
        sigma[i] = t[i] * np.hypot(f_anchor_error / t[a], float(np.sqrt((weights**2) @ sy**2)))
    return f, sigma
