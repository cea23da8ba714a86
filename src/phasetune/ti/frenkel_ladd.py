"""Route B: Frenkel–Ladd nonequilibrium switching from an Einstein crystal (method.md §9).

``fix ti/spring κ t_s t_eq function 2`` (Freitas, Asta & de Koning, Comput. Mater. Sci. 112, 333
(2016)) switches H(λ) = (1 − λ)U_θ + λU_E, U_E = ½κΣ_i|x_i − x_i⁰|², with the smooth switching
function λ(t) = t⁵(70t⁴ − 315t³ + 540t² − 420t + 126): t_eq steps at λ = 0, forward switching
(θ → E, t_s steps), t_eq steps at λ = 1, backward switching (E → θ).  With W = ∫(U_E − U_θ)dλ
along each path (total, eV),

    F_θ − F_E = (W_{E→θ} − W_{θ→E}) / 2N,   dissipation Q = (W_{θ→E} + W_{E→θ}) / 2N ≥ 0.

The COM is fixed, so the Einstein crystal has 3N − 3 modes of frequency Ω_E = (c_uκ/m)^{1/2}:
F_E^{(3−3/N)} = (3 − 3/N)k_BT ln(ħΩ_E/k_BT).  The physical (COM-free) variant is

    F_phys = 3k_BT ln(ħΩ_E/k_BT) − (k_BT/N) ln[(V_box/N_trans)(βNκ/2π)^{3/2}] + W,

and F_phys − f_trans = F_E^{(3−3/N)} + W exactly (see :func:`einstein_free_energy`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from ..constants import CU, HBAR, KB
from ..conventions import Conventions
from ..engine.session import lammps_float
from ..errors import PhasetuneError
from ..model import HarmonicReference
from .basin import BasinGuard
from .md import U_THETA, CoupledMD, lammps_seed

SPRING_ID = "pt_ti"
U_EINSTEIN = "pt_ue"
FL_LAMBDA = "pt_fl_lam"


@dataclass(frozen=True)
class FrenkelLaddSettings:
    """Route B settings.

    Attributes:
        equilibration: steps t_eq at each end state.
        switching: steps t_s of each switch.
        kappa: spring constant κ, eV/Å² (None: the harmonic mean of the reference ω_l, which
            matches the crystal's mean-square displacement).
    """

    equilibration: int = 4000
    switching: int = 16000
    kappa: float | None = None

    def __post_init__(self) -> None:
        if self.switching <= 0 or self.equilibration < 0:
            raise PhasetuneError("Frenkel–Ladd needs positive switching and equilibration steps")
        if self.kappa is not None and self.kappa <= 0:
            raise PhasetuneError(f"spring constant κ = {self.kappa} eV/Å² must be positive")

    def steps_per_repeat(self) -> int:
        return 2 * (self.equilibration + self.switching)

    def to_dict(self) -> dict:
        return asdict(self)


def einstein_frequency(kappa: float, mass: float) -> float:
    """Ω_E = (c_u κ/m)^{1/2}, ps⁻¹ (κ in eV/Å², m in amu)."""
    return float(np.sqrt(CU * kappa / mass))


COM_FIXED, BULK = Conventions(modes="3N-3"), Conventions(modes="3N")
"""r = 3 − 3/N (what COM-fixed switching measures) and r = 3."""


def einstein_free_energy(temperature: float, kappa: float, mass: float, n_atoms: int,
                         volume_box: float | None = None, n_trans: int | None = None) -> float:
    """Classical Einstein-crystal free energy per atom (site energy 0), eV/atom.

    Without ``volume_box``: the COM-fixed value (3 − 3/N)k_BT ln(ħΩ_E/k_BT).  With it: the
    physical value 3k_BT ln(ħΩ_E/k_BT) − (k_BT/N) ln[(V_box/N_trans)(βNκ/2π)^{3/2}] (method.md
    §9), which exceeds the COM-fixed one by exactly f_trans (V_box in Å³).
    """
    kt = KB * temperature
    log_hw = np.log(HBAR * einstein_frequency(kappa, mass) / kt)
    if volume_box is None:
        return float(COM_FIXED.modes_per_atom(n_atoms) * kt * log_hw)
    n_trans = n_atoms if n_trans is None else n_trans
    com = (volume_box / n_trans) * (n_atoms * kappa / (2.0 * np.pi * kt)) ** 1.5
    return float(BULK.modes_per_atom(n_atoms) * kt * log_hw - kt / n_atoms * np.log(com))


def linear_response_error(temperature: float, dissipation: float, n_atoms: int) -> float:
    """Standard error (eV/atom) of one cycle's F from its dissipation Q (eV/atom).

    For Gaussian work distributions (linear response) Var W = 2k_BT·NQ in each direction, so
    (W_{E→θ} − W_{θ→E})/2N has variance k_BT|Q|/N.  |Q| of one cycle is itself noisy; the
    repeat-level estimate uses the mean Q (:class:`~phasetune.ti.result.TemperaturePoint`)."""
    return float(np.sqrt(KB * temperature * abs(dissipation) / n_atoms))


def switching_work(records: np.ndarray, start: int, stop: int) -> float:
    """W = ∫(U_E − U_θ)dλ (eV, total) over the records with start ≤ step ≤ stop (trapezoid in λ).

    ``records`` columns: step, U_θ, U_E, λ."""
    step = records[:, 0]
    window = records[(step >= start) & (step <= stop)]
    if len(window) < 2:
        raise PhasetuneError("switching window holds fewer than two samples")
    du = window[:, 2] - window[:, 1]
    lam = window[:, 3]
    return float(np.sum(0.5 * (du[1:] + du[:-1]) * np.diff(lam)))


def frenkel_ladd_repeat(md: CoupledMD, harmonic: HarmonicReference, settings: FrenkelLaddSettings,
                        rng: np.random.Generator, guard: BasinGuard | None,
                        progress: Callable[[int], None] | None = None) -> dict:
    """One forward + backward switching cycle at ``md.temperature``.

    Args:
        md: a fresh ``mode="plain"`` :class:`CoupledMD` (the springs bind atoms to X0).
        harmonic: the harmonic reference: sites X0, start configuration, default κ.

    Returns:
        dict with ``F_com_fixed`` (F^{(3−3/N)}, eV/atom), ``sigma_block`` (the linear-response
        error of one cycle, :func:`linear_response_error`) and ``components`` (κ, F_Einstein,
        works and dissipation per atom).
    """
    if md.mode != "plain":
        raise PhasetuneError("Frenkel–Ladd needs the target alone (CoupledMD mode 'plain')")
    n, t = md.n_atoms, md.temperature
    stride = md.settings.stride
    t_eq, t_s = settings.equilibration, settings.switching
    if t_eq % stride or t_s % stride:
        raise PhasetuneError(f"Frenkel–Ladd step counts must be multiples of stride {stride}")
    kappa = settings.kappa or harmonic.einstein_constant()
    md.set_lambda(1.0)
    md.set_state(np.zeros((n, 3)), np.zeros((n, 3)))  # springs anchor at the unwrapped sites
    start = md.step
    spring = lammps_float(kappa)
    md.engine.commands([f"fix {SPRING_ID} all ti/spring {spring} {t_s} {t_eq} function 2",
                        f"variable {U_EINSTEIN} equal f_{SPRING_ID}",
                        f"variable {FL_LAMBDA} equal f_{SPRING_ID}[1]"])
    md.set_state(harmonic.sample_displacements(rng, t), harmonic.sample_velocities(rng, t))
    md.set_thermostat(lammps_seed(rng))
    record = (U_THETA, U_EINSTEIN, FL_LAMBDA)
    first = md.run(t_eq, record=record, check=guard, progress=progress)
    quench = [guard.check_quench(md.positions())] if guard is not None else []
    rest = md.run(t_eq + 2 * t_s, record=record, check=guard, progress=progress)
    if guard is not None:
        quench.append(guard.check_quench(md.positions()))
    records = np.concatenate([first, rest[rest[:, 0] > first[-1, 0]]])
    w_forward = switching_work(records, start + t_eq, start + t_eq + t_s)
    w_backward = switching_work(records, start + 2 * t_eq + t_s, start + 2 * t_eq + 2 * t_s)
    f_einstein = einstein_free_energy(t, kappa, harmonic.mass, n)
    work = (w_backward - w_forward) / (2.0 * n)
    solid = records[records[:, 0] <= start + t_eq]
    dissipation = (w_forward + w_backward) / (2.0 * n)
    return {
        "F_com_fixed": f_einstein + work,
        "sigma_block": linear_response_error(t, dissipation, n),
        "components": {
            "kappa": kappa, "einstein_frequency": einstein_frequency(kappa, harmonic.mass),
            "F_einstein": f_einstein,
            "F_einstein_phys": einstein_free_energy(t, kappa, harmonic.mass, n,
                                                    harmonic.volume_box, harmonic.n_trans),
            "W": work, "W_forward": w_forward / n, "W_backward": w_backward / n,
            "dissipation": dissipation,
            "U_solid_end": float(solid[-1, 1] / n), "quench": quench,
        },
        "endpoint": None,
        "equilibrated": True,
    }
