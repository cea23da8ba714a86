"""One liquid TI repeat: melt, λ-switch target → Uhlenbeck–Ford, λ′-path UF → ideal gas.

Per atom (eV/atom), at fixed N, V_box and T (docs/ti.md, "Liquids"):

    F_phys = F_id + F_ex^UF + ΔF_switch,
    ΔF_switch = (1/N)∫₀¹⟨U_θ − U_UF⟩_λ dλ,      U_λ = λU_θ + (1 − λ)U_UF,
    F_ex^UF   = (1/N)∫₀¹⟨U_UF⟩_λ′ dλ′,           U_λ′ = λ′U_UF (λ′ = 0: the ideal gas).

Both integrals use Gauss–Legendre nodes in t with λ = t^k (``power`` k): k = 1 is plain
Gauss–Legendre; k > 1 gathers nodes near λ = 0.  The UF leg needs it: its integrand falls from
the ideal-gas value (N − 1)/(2V_box)∫φ d³r to about half of it within λ′ ≈ 1/p.

A repeat: (1) melt the crystal with the target alone at ``melt_factor``·T, (2) equilibrate at T
and sample the physical liquid (λ = 1: ⟨U⟩, ⟨P⟩, D — the endpoint), (3) the switch nodes from
λ ≈ 1 down to λ ≈ 0, each continuing from the previous one, (4) the UF leg, from λ′ ≈ 1 down,
in a separate LAMMPS instance without the target.  Every segment is judged by the
:class:`~phasetune.ti.liquid_checks.LiquidGuard` (crystallisation stops the run).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3, KB
from ..errors import PhasetuneError
from ..model.harmonic import com_translation_free_energy
from ..potentials.linear import PairPotential
from .barostat import BAR_PER_EV_A3
from .liquid_checks import LiquidGuard, is_liquid
from .liquid_md import P_VIRIAL, U_THETA, U_UF, LiquidMD, LiquidMDSettings
from .md import lammps_seed
from .stats import gauss_legendre, summarize_series
from .uhlenbeck_ford import UFSettings, ideal_gas_free_energy

STRICT_LAMBDA = 0.5
"""Switch nodes at λ ≥ this (and the endpoint) must also diffuse; below, only a crystal stops
the run (the UF-dominated mixture is judged by structure)."""


@dataclass(frozen=True)
class LiquidSettings:
    """Steps and quadratures of one liquid repeat (MD steps; see the module doc).

    Attributes:
        n_nodes: Gauss–Legendre nodes of the λ-switch.
        power: λ = t^power for the switch (1: plain Gauss–Legendre).
        equilibration, production: steps per switch node (discarded, recorded).
        uf_nodes: Gauss–Legendre nodes of the UF leg.
        uf_power: λ′ = t^uf_power for the UF leg.
        uf_equilibration, uf_production: steps per UF node.
        melt_factor: melting temperature / T.
        melt_steps: steps at melt_factor·T (target alone).
        endpoint_equilibration, endpoint_production: steps at T with the target alone
            (λ = 1) before the switch; the production gives ⟨U⟩, ⟨P⟩ and D.
    """

    n_nodes: int = 8
    power: float = 1.0
    equilibration: int = 1000
    production: int = 4000
    uf_nodes: int = 12
    uf_power: float = 3.0
    uf_equilibration: int = 1000
    uf_production: int = 20000
    melt_factor: float = 2.0
    melt_steps: int = 2000
    endpoint_equilibration: int = 2000
    endpoint_production: int = 4000

    def __post_init__(self) -> None:
        if self.n_nodes < 2 or self.uf_nodes < 2:
            raise PhasetuneError("liquid TI needs at least 2 nodes in each integral")
        if self.power < 1 or self.uf_power < 1:
            raise PhasetuneError("the node maps λ = t^k need k ≥ 1")
        if min(self.production, self.uf_production, self.endpoint_production) <= 0 or \
                min(self.equilibration, self.uf_equilibration, self.melt_steps,
                    self.endpoint_equilibration) < 0:
            raise PhasetuneError("liquid TI needs positive production steps")
        if self.melt_factor < 1:
            raise PhasetuneError(f"melt factor {self.melt_factor} is below 1",
                                 "melt above the target temperature (default 2)")

    def target_steps(self) -> int:
        """MD steps with the target per repeat (melt, endpoint, switch)."""
        return (self.melt_steps + self.endpoint_equilibration + self.endpoint_production
                + self.n_nodes * (self.equilibration + self.production))

    def uf_steps(self) -> int:
        """MD steps of the UF leg per repeat."""
        return self.uf_nodes * (self.uf_equilibration + self.uf_production)

    def rounded(self, stride: int) -> LiquidSettings:
        """The same settings with every step count a multiple of ``stride``."""
        def up(n: int) -> int:
            return -(-int(n) // stride) * stride

        names = ("equilibration", "production", "uf_equilibration", "uf_production",
                 "melt_steps", "endpoint_equilibration", "endpoint_production")
        return LiquidSettings(**{**asdict(self), **{k: up(getattr(self, k)) for k in names}})

    def to_dict(self) -> dict:
        return asdict(self)


def mapped_nodes(n: int, power: float) -> tuple[np.ndarray, np.ndarray]:
    """(λ_k, W_k), each (n,): Gauss–Legendre in t mapped by λ = t^power, W = w·power·t^(power−1)
    (ascending λ, ΣW = 1 for integer power ≤ 2n)."""
    t, w = gauss_legendre(n)
    return t**power, w * power * t ** (power - 1.0)


def _node_stats(series: np.ndarray, lam: float, weight: float, temperature: float,
                n_atoms: int, check: dict) -> dict:
    s = summarize_series(series)
    var = float(np.var(series[s.discarded:], ddof=1))
    return {"lambda": float(lam), "weight": float(weight), **s.to_dict(), "variance": var,
            "slope": -n_atoms * var / (KB * temperature),
            "solid_fraction": check.get("solid_fraction"), "diffusion": check.get("diffusion")}


def combine_nodes(nodes: list[dict]) -> tuple[float, float]:
    """Σ_k W_k·mean_k and its error (Σ_k W_k²σ_k²)^{1/2} over a leg's node statistics."""
    w = np.array([s["weight"] for s in nodes])
    means = np.array([s["mean"] for s in nodes])
    errors = np.array([s["error"] for s in nodes])
    return float(w @ means), float(np.sqrt((w**2) @ errors**2))


def melt(md: LiquidMD, guard: LiquidGuard, settings: LiquidSettings, rng: np.random.Generator,
         progress: Callable[[int], None] | None) -> dict:
    """Melt the starting crystal with the target alone at melt_factor·T; the last frame must be
    liquid by structure (no crystal, few solid-like atoms)."""
    t_melt = settings.melt_factor * md.temperature
    md.set_coupling(1.0, 0.0)
    md.start(rng, t_melt)
    if settings.melt_steps:
        md.run(settings.melt_steps, record=(), progress=progress)
    d = is_liquid(md.positions(), md.cell, guard.reference)
    if d.crystalline or d.solid_fraction >= 0.2:
        raise PhasetuneError(
            f"{guard.context}: the crystal did not melt in {settings.melt_steps} steps at "
            f"{t_melt:.0f} K (solid-like fraction {d.solid_fraction:.2f}, largest S(k)/N "
            f"{d.max_sk:.2f})", "raise the melting temperature (melt_factor) or melt_steps")
    out = d.to_dict()
    out.pop("extra")
    return {"T_melt": t_melt, "steps": settings.melt_steps, **out}


def sample_endpoint(md: LiquidMD, guard: LiquidGuard, settings: LiquidSettings,
                    rng: np.random.Generator, progress: Callable[[int], None] | None) -> dict:
    """Equilibrate the molten liquid at T (target alone) and sample it.

    Returns (eV/atom, eV/Å³): ``U`` = ⟨U_θ⟩/N, ``E`` = U + (3/2)k_BT, ``P`` = Nk_BT/V_box +
    ⟨P_virial⟩ (the physical pressure, free COM), ``P_com_fixed`` = P − k_BT/V_box, their GPa
    values, ``du`` = ⟨U_θ − U_UF⟩/N at λ = 1, ``D`` (Å²/ps) and the liquid check."""
    n, t = md.n_atoms, md.temperature
    md.set_coupling(1.0, 0.0)
    md.start(rng)
    if settings.endpoint_equilibration:
        guard.begin(f"the equilibration of the molten liquid at {t:g} K")
        md.run(settings.endpoint_equilibration, record=(), check=guard, progress=progress)
    guard.begin("the physical liquid (λ = 1)")
    rec = md.run(settings.endpoint_production, record=(U_THETA, U_UF, P_VIRIAL), check=guard,
                 progress=progress)
    check = guard.finish(strict=True)
    u = summarize_series(rec[:, 1] / n)
    du = summarize_series((rec[:, 1] - rec[:, 2]) / n)
    p_vir = summarize_series(rec[:, 3] / BAR_PER_EV_A3)
    kt = KB * t
    p = n * kt / md.volume_box + p_vir.mean
    return {"U": u.mean, "U_error": u.error, "E": u.mean + 1.5 * kt,
            "P": p, "P_error": p_vir.error, "P_GPa": p / GPA_TO_EV_PER_A3,
            "P_error_GPa": p_vir.error / GPA_TO_EV_PER_A3,
            "P_com_fixed": p - kt / md.volume_box,
            "du": du.mean, "du_error": du.error, "du_variance": float(np.var(
                (rec[du.discarded:, 1] - rec[du.discarded:, 2]) / n, ddof=1)),
            "D": check.get("diffusion"), "series": u.to_dict(), "liquid_check": check}


def _segment(md: LiquidMD, guard: LiquidGuard | None, equilibration: int, production: int,
             record: tuple[str, ...], label: str, strict: bool,
             progress: Callable[[int], None] | None) -> tuple[np.ndarray, dict]:
    """Equilibrate, then record one node; the guard (if any) judges the production."""
    if equilibration:
        if guard is not None:
            guard.begin(f"the equilibration of {label}")
        md.run(equilibration, record=(), check=guard, progress=progress)
    if guard is not None:
        guard.begin(label)
    rec = md.run(production, record=record, check=guard, progress=progress)
    return rec, (guard.finish(strict=strict) if guard is not None else {})


def switch_leg(md: LiquidMD, guard: LiquidGuard | None, settings: LiquidSettings,
               progress: Callable[[int], None] | None = None) -> list[dict]:
    """⟨U_θ − U_UF⟩_λ/N at the switch nodes, from λ ≈ 1 down (per-node statistics,
    ascending λ)."""
    n, t = md.n_atoms, md.temperature
    lams, weights = mapped_nodes(settings.n_nodes, settings.power)
    stats = []
    for lam, w in sorted(zip(lams, weights, strict=True), reverse=True):
        md.set_coupling(float(lam), 1.0 - float(lam))
        rec, check = _segment(
            md, guard, settings.equilibration, settings.production, (U_THETA, U_UF),
            f"the λ = {lam:.4g} node of the switch to the Uhlenbeck–Ford reference",
            lam >= STRICT_LAMBDA, progress)
        stats.append(_node_stats((rec[:, 1] - rec[:, 2]) / n, lam, w, t, n, check))
    return stats[::-1]


def uf_leg(md: LiquidMD, guard: LiquidGuard | None, settings: LiquidSettings,
           progress: Callable[[int], None] | None = None) -> list[dict]:
    """⟨U_UF⟩_λ′/N at the UF-leg nodes (no target), from λ′ ≈ 1 down (ascending λ′)."""
    n, t = md.n_atoms, md.temperature
    lams, weights = mapped_nodes(settings.uf_nodes, settings.uf_power)
    stats = []
    for lam, w in sorted(zip(lams, weights, strict=True), reverse=True):
        md.set_coupling(0.0, float(lam))
        rec, check = _segment(
            md, guard, settings.uf_equilibration, settings.uf_production, (U_UF,),
            f"the λ′ = {lam:.3g} node of the Uhlenbeck–Ford reference", lam >= STRICT_LAMBDA,
            progress)
        stats.append(_node_stats(rec[:, 1] / n, lam, w, t, n, check))
    return stats[::-1]


def liquid_repeat(atoms: Atoms, target: PairPotential, uf: UFSettings, temperature: float,
                  md_settings: LiquidMDSettings, settings: LiquidSettings,
                  rng: np.random.Generator, context: str,
                  progress: Callable[[int], None] | None = None) -> dict:
    """One independent liquid TI at ``temperature`` from the crystal ``atoms``.

    Returns:
        dict with ``F_com_fixed`` (F^(3N−3) = F_phys − f_trans, eV/atom), ``sigma_block``
        (quadrature of block errors of both legs), ``components`` (F_phys, F_id, F_ex_UF,
        dF_switch, f_trans, their errors, βF_ex_UF, x = bρ, melt, per-node statistics),
        ``endpoint`` (:func:`sample_endpoint`), ``equilibrated``, ``diagnostics`` (liquid
        checks), ``n_steps``.
    """
    n = len(atoms)
    t = float(temperature)
    mass = float(atoms.get_masses()[0])
    volume_box = float(atoms.get_volume())
    guard = LiquidGuard(atoms, context)
    md = LiquidMD(atoms, target, uf, t, md_settings, label=context)
    try:
        melted = melt(md, guard, settings, rng, progress)
        endpoint = sample_endpoint(md, guard, settings, rng, progress)
        switch = switch_leg(md, guard, settings, progress)
        liquid = atoms.copy()
        liquid.positions = md.positions()
        velocities = md.engine.velocities()
        steps = md.step
    finally:
        md.close()
    reference = LiquidMD(liquid, None, uf, t, md_settings, label=f"{context}, UF reference")
    try:
        reference.set_velocities(velocities)
        reference.set_thermostat(lammps_seed(rng))
        ufs = uf_leg(reference, guard, settings, progress)
        steps += reference.step
    finally:
        reference.close()
    d_switch, s_switch = combine_nodes(switch)
    f_ex, s_ex = combine_nodes(ufs)
    kt = KB * t
    f_id = ideal_gas_free_energy(t, n, volume_box, mass)
    f_phys = f_id + f_ex + d_switch
    f_trans = float(com_translation_free_energy(t, n, mass, volume_box, n))
    return {
        "F_com_fixed": f_phys - f_trans,
        "sigma_block": float(np.hypot(s_switch, s_ex)),
        "components": {
            "F_phys": f_phys, "F_id": f_id, "F_ex_UF": f_ex, "dF_switch": d_switch,
            "f_trans": f_trans, "sigma_F_ex_UF": s_ex, "sigma_dF_switch": s_switch,
            "beta_F_ex_UF": f_ex / kt, "x": uf.b() * n / volume_box,
            "epsilon": uf.epsilon(t), "melt": melted, "nodes": switch, "uf_nodes": ufs},
        "endpoint": endpoint,
        "equilibrated": bool(endpoint["series"]["equilibrated"]
                             and all(s["equilibrated"] for s in switch + ufs)),
        "diagnostics": {"liquid": guard.summary(), "segments": guard.history},
        "n_steps": steps,
    }
