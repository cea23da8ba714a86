"""The shell grid of a campaign: shell labels α from the temperatures results will be asked
for (method.md §4.3), for crystals (α_H(T) of the harmonic reference) and liquids (ε(T) =
3k_BT + energy_offset, method.md §4.6).
"""

from __future__ import annotations

import numpy as np

from ..conventions import Conventions
from ..model import HarmonicReference
from .spec import IsosurfaceSpec, LiquidSpec

GRID_CONVENTIONS = Conventions(modes="3N")
"""Modes per atom r used to convert temperatures to shell labels, α_H(T) = ln(r k_B T / ω̄)."""
MAX_SPACING = 0.15
"""Largest advisable grid spacing Δα (method.md §4.3)."""


def isosurface_grid(iso: IsosurfaceSpec, reference: HarmonicReference,
                     conventions: Conventions = GRID_CONVENTIONS,
                     t_max: float | None = None, liquid: LiquidSpec | None = None,
                     ) -> tuple[np.ndarray, list[str], list[str]]:
    """Shell labels α (ascending; e^α in Å², per atom) for a harmonic reference.

    Args:
        iso: the ``isosurfaces`` block.
        reference: the harmonic reference of this (phase, volume) (its ω̄).
        conventions: the mode count r of α_H(T) = ln(r k_B T / ω̄) (r = 3 for every campaign).
        t_max: an extension of the range (``sample --t-max``, recorded in the archive): when above
            T_hi, shells are appended on the grid's own lattice until α_H(cover·t_max) is covered
            — the fixed lattice α = kΔα with ``spacing``, the count grid continued at its spacing
            (α_lo + kΔα) with ``count``; the shells of the YAML range are unchanged either way.
        liquid: a liquid phase's settings: its own temperature range (if given) and the energy
            map ε(T) = 3k_BT + energy_offset, i.e. α(T) = ln(e^{α_H(T)} + offset/ω̄).

    Returns:
        (alphas, warnings, notes): warnings say when the requested temperatures sit too close to
        the grid edges for α* to be *solved*; notes say when the spacing is coarser than
        MAX_SPACING (fine for a demonstration, not for meV/atom accuracy).
    """
    t_lo, t_hi = iso.temperatures if liquid is None or liquid.temperatures is None \
        else liquid.temperatures
    offset = 0.0 if liquid is None else liquid.energy_offset / reference.omega_bar
    if liquid is not None:
        iso = iso.model_copy(update={"cover": liquid.cover})

    def alpha_h(t: float) -> float:
        return float(np.log(np.exp(reference.harmonic_alpha(t, conventions)) + offset))

    a_lo, a_hi = alpha_h(t_lo / iso.cover), alpha_h(t_hi * iso.cover)
    t_top = max(t_hi, t_max or t_hi)
    a_top = alpha_h(t_top * iso.cover)
    if iso.count is not None:
        spacing = (a_hi - a_lo) / (iso.count - 1)
        alphas = np.linspace(a_lo, a_hi, iso.count)
        n_more = int(np.ceil((a_top - a_hi) / spacing - 1e-9)) if t_top > t_hi else 0
        alphas = np.append(alphas, a_lo + spacing * np.arange(iso.count, iso.count + n_more))
    else:
        spacing = float(iso.spacing)
        k = np.arange(np.floor(a_lo / spacing), np.ceil(a_top / spacing) + 1)
        alphas = k * spacing
    warnings, notes = [], []
    margin = min(alpha_h(t_lo) - alphas[0], alphas[-1] - alpha_h(t_top))
    shown = f"{t_lo:g}–{t_top:g} K" + (f" (extended from {t_hi:g} K by sample --t-max)"
                                        if t_top > t_hi else "")
    if margin < spacing:
        warnings.append(
            f"isosurfaces: the grid reaches only {margin:.3f} beyond the requested temperatures "
            f"{shown}, less than one spacing ({spacing:.3f}); anharmonic shifts "
            "will push α* into the outer half-interval and results there are not solved "
            f"(raise {'isosurfaces' if liquid is None else 'liquid'}.cover, e.g. 2 at high "
            "homologous temperature, or the count)")
    if spacing > MAX_SPACING:
        notes.append(
            f"isosurfaces: spacing Δα = {spacing:.3f} is coarser than {MAX_SPACING} over "
            f"{t_lo / iso.cover:g}–{t_top * iso.cover:g} K; the α smoother may be inaccurate "
            f"(use count ≥ {int(np.ceil((a_hi - a_lo) / MAX_SPACING)) + 1})")
    return alphas, warnings, notes
