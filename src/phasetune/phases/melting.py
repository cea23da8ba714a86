"""Melting: T_m(θ, P) from G_solid = G_liquid (method.md §8, "Melting").

Both phases are :class:`~phasetune.pressure.phase.PressurePhase` objects (several volumes each);
the liquid's volumes are kinetic shells of the melted reference anchored on liquid TI (§4.6).
They are compared through the **thermodynamic-limit estimates** of their G per atom
(:meth:`PressurePhase.thermodynamic_limit`): a crystal in the bulk-like 3N convention (no
missing modes, no free COM), a liquid as its physical F with ln N! in Stirling's form.  For a
54-atom crystal and a 128-atom liquid near 2700 K, the COM-fixed F^(3N−3) of both, or their
physical F, would differ from these by 30–80 meV/atom — hundreds of kelvin in T_m.

At the root of ΔG = G_liquid − G_solid (implicit differentiation, as for T_c in §8):

    ∂T_m/∂θ = (D*_l − D*_s)/(s_l − s_s),  σ_Tm = σ_ΔG/Δs,  ΔH_m = T_mΔs,  ΔV_m = V*_l − V*_s,

and the Clausius–Clapeyron slope dT_m/dP = ΔV_m/Δs (K/GPa after unit conversion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..constants import GPA_TO_EV_PER_A3
from ..errors import PhasetuneError
from ..pressure.phase import PressurePhase
from .diagram import isobar_points
from .ensembles import EnsembleTransition, ensemble_transition


@dataclass
class MeltingPoint:
    """T_m of one model at one pressure, or a bound on it.

    Attributes:
        solid, liquid: phase names.
        pressure_GPa: GPa.
        kind: ``"root"``, ``"above"``/``"below"`` (T_m beyond the compared range's edge
            ``bound``) or ``"none"`` (no crossing and no trend towards one).
        T_m, sigma_Tm: K.
        gradient: (N_D,) ∂T_m/∂θ, K per θ unit (root only).
        delta_S: s_l − s_s at T_m, eV/K/atom;  delta_H: T_mΔs, eV/atom;  delta_V: V*_l − V*_s,
            Å³/atom;  V_solid, V_liquid: V* at T_m, Å³/atom.
        slope: Clausius–Clapeyron dT_m/dP = ΔV/Δs, K/GPa.
        compared: (T_lo, T_hi) K, the temperature range where both G were compared.
        solved: the bracketing and refined points are all solved.
    """

    solid: str
    liquid: str
    pressure_GPa: float
    kind: str
    compared: tuple[float, float]
    T_m: float = float("nan")
    sigma_Tm: float = float("nan")
    bound: float = float("nan")
    gradient: np.ndarray | None = None
    delta_S: float = float("nan")
    delta_H: float = float("nan")
    delta_V: float = float("nan")
    V_solid: float = float("nan")
    V_liquid: float = float("nan")
    slope: float = float("nan")
    solved: bool = False

    def message(self) -> str:
        """One line saying what was found (or why not)."""
        where = (f"{self.solid}–{self.liquid} at {self.pressure_GPa:g} GPa, compared over "
                 f"{self.compared[0]:g}–{self.compared[1]:g} K" if np.isfinite(self.compared[0])
                 else f"{self.solid}–{self.liquid} at {self.pressure_GPa:g} GPa: no temperature "
                 "of the grid is solved for both phases (see phases/predict for why)")
        if self.kind == "root":
            return (f"T_m = {self.T_m:.1f} ± {self.sigma_Tm:.1f} K ({where}); ΔH_m = "
                    f"{1e3 * self.delta_H:.1f} meV/atom, ΔV_m = {self.delta_V:.3f} Å³/atom, "
                    f"dT_m/dP = {self.slope:.1f} K/GPa")
        if self.kind in ("above", "below"):
            return f"no crossing ({where}): T_m is {self.kind} {self.bound:g} K"
        return f"no crossing of G_solid and G_liquid ({where})"

    def to_dict(self) -> dict:
        out = {k: getattr(self, k) for k in (
            "solid", "liquid", "pressure_GPa", "kind", "T_m", "sigma_Tm", "bound", "delta_S",
            "delta_H", "delta_V", "V_solid", "V_liquid", "slope", "solved")}
        out["compared"] = list(self.compared)
        out["message"] = self.message()
        if self.gradient is not None:
            out["gradient"] = self.gradient.tolist()
        out["units"] = {"T_m": "K", "delta_S": "eV/K/atom", "delta_H": "eV/atom",
                        "delta_V": "Å³/atom", "slope": "K/GPa", "gradient": "K per θ unit"}
        return out


def check_melting_pair(solid: PressurePhase, liquid: PressurePhase) -> None:
    """The liquid must be a liquid phase, the solid a crystal, in the same conventions."""
    if not liquid.phase_volume.liquid:
        raise PhasetuneError(f"phase {liquid.name!r} is not a liquid",
                             "sample a liquid phase (phases[].liquid in the campaign)")
    if solid.phase_volume.liquid:
        raise PhasetuneError(f"phase {solid.name!r} is a liquid, not a crystal")
    if solid.conventions != liquid.conventions:
        raise PhasetuneError("the solid and the liquid use different conventions")


def melting_point(solid: PressurePhase, liquid: PressurePhase, theta, pressure_GPa: float,
                  temperatures, beta0: float | None = None) -> MeltingPoint:
    """T_m of one model θ (N_D,) at one pressure, bracketed on the grid ``temperatures`` (K)
    and refined by Newton (the isobar points of :func:`~phasetune.phases.diagram.isobar_points`
    on the thermodynamic-limit phases); ``beta0`` the potential's constant (eV/atom, default
    each reference's)."""
    check_melting_pair(solid, liquid)
    pressure = float(pressure_GPa) * GPA_TO_EV_PER_A3
    a, b = (phase.thermodynamic_limit() for phase in (solid, liquid))
    theta = np.asarray(theta, dtype=float)
    t = np.sort(np.asarray(temperatures, dtype=float))
    pa, pb = (phase.isobar(pressure).predict(theta, t, beta0=beta0) for phase in (a, b))
    ok = pa.solved[:, 0] & pb.solved[:, 0]
    compared = (float(t[ok].min()), float(t[ok].max())) if ok.any() else (float("nan"),) * 2
    found = [q for q in isobar_points(a, b, (solid.name, liquid.name), theta, t, pressure, beta0)
             if q.kind != "root" or q.low == solid.name]
    where = (solid.name, liquid.name, float(pressure_GPa))
    if not found:
        return MeltingPoint(*where, "none", compared)
    q = found[0]
    if q.kind != "root":
        return MeltingPoint(*where, q.kind, compared, bound=q.temperature)
    return MeltingPoint(
        *where, "root", compared, T_m=q.temperature, sigma_Tm=q.sigma_T, gradient=q.gradient,
        delta_S=q.delta_entropy, delta_H=q.delta_enthalpy, delta_V=q.delta_volume,
        V_solid=q.volume_low, V_liquid=q.volume_high,
        slope=q.clapeyron * GPA_TO_EV_PER_A3, solved=q.solved)


def melting_temperatures(solid: PressurePhase, liquid: PressurePhase, thetas, pressure_GPa: float,
                         temperatures) -> EnsembleTransition:
    """T_m of many models at once (vectorised over models: one grid prediction per phase, Hermite
    interpolation between the bracketing grid points; see
    :func:`~phasetune.phases.ensembles.ensemble_transition`)."""
    check_melting_pair(solid, liquid)
    pressure = float(pressure_GPa) * GPA_TO_EV_PER_A3
    return ensemble_transition(solid.thermodynamic_limit().isobar(pressure),
                               liquid.thermodynamic_limit().isobar(pressure),
                               np.atleast_2d(np.asarray(thetas, dtype=float)), temperatures)
