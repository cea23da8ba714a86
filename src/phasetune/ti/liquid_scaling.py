"""G(T) of a liquid at fixed pressure by reversible scaling, anchored on liquid TI.

The crystal machinery of :mod:`~phasetune.ti.scaling` (sweeps of U_λ = λU_θ at the simulation
temperature T0 with the barostat target λP, and the formula
G(T) = [G(T0) + ΔG_sim(λ)]/λ + ½(r − n_c/N)k_BT ln λ, docs/ti.md §11) with a liquid anchor:

1. melt the crystal at ``melt_factor``·T0 (fixed cell);
2. :func:`~phasetune.ti.npt.npt_volume` of that liquid at (P, T0) gives the mean cell;
3. :func:`~phasetune.ti.liquid.liquid_free_energy` at the mean cell gives F_3N-3(T0), and
   G_3N-3(T0) = F_3N-3 + P⟨V⟩ per atom, σ² = σ_F² + P²σ_V²;
4. one forward/backward sweep T0 → T1 from the liquid rescaled to the mean cell (heating a
   liquid: nothing to crystallise; the liquid at T0 is judged by the TI's checks).

G_phys(T) = G_3N-3(T) + f_trans(T, ⟨V⟩(T)) with N_trans = N (docs/ti.md §12.2).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3
from ..model.harmonic import com_translation_free_energy
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from .barostat import NPTSettings
from .checkpoint import StageStore
from .gibbs import potential_fingerprint
from .liquid import describe_liquid, liquid_free_energy
from .liquid_checks import LiquidGuard
from .liquid_md import LiquidMD, LiquidMDSettings
from .liquid_path import LiquidSettings, melt
from .liquid_result import LiquidResult
from .npt import check_pressure, npt_volume, with_cell
from .scaling import (
    CELL_VARIABLES,
    SweepSettings,
    _at,
    _smooth,
    run_sweeps,
    scaling_free_energy,
    sweep_difference,
    sweep_grid,
)
from .uhlenbeck_ford import UFSettings


@dataclass
class LiquidSweepResult:
    """G(T) per atom of a liquid at pressure P (eV/atom, K, Å³/atom, eV/Å³).

    Attributes:
        anchor: the liquid TI at T0 and the NPT mean cell.
        npt: the NPT run at (P, T0) (``VolumeResult.to_dict()``).
        G0, sigma_G0: G_3N-3(T0) and its error.
        temperatures: (n_T,) K, T0 first.
        G_com_fixed, G_phys: (n_T,) G_3N-3 and the physical G.
        sigma, sigma_anchor, sigma_hysteresis: (n_T,) total error and its two parts.
        volume: (n_T,) ⟨V⟩/N along the sweeps (mean of forward and backward, smoothed).
    """

    anchor: LiquidResult
    npt: dict
    pressure: float
    G0: float
    sigma_G0: float
    temperatures: np.ndarray
    G_com_fixed: np.ndarray
    G_phys: np.ndarray
    sigma: np.ndarray
    sigma_anchor: np.ndarray
    sigma_hysteresis: np.ndarray
    volume: np.ndarray
    n_cell: int
    settings: dict
    warnings: list[str] = field(default_factory=list)

    @property
    def G(self) -> np.ndarray:
        """(n_T,) G_3N-3 per atom, eV/atom."""
        return self.G_com_fixed

    def to_dict(self) -> dict:
        rows = [{"T": float(t), "G": float(self.G_com_fixed[i]),
                 "G_3N-3": float(self.G_com_fixed[i]), "G_phys": float(self.G_phys[i]),
                 "sigma": float(self.sigma[i]), "sigma_anchor": float(self.sigma_anchor[i]),
                 "sigma_hysteresis": float(self.sigma_hysteresis[i]),
                 "volume": float(self.volume[i])} for i, t in enumerate(self.temperatures)]
        return {"structure": self.anchor.structure, "potential": self.anchor.potential,
                "method": "liquid: reversible scaling at fixed pressure, anchored on liquid TI",
                "phase": "liquid", "reported_G": "G_3N-3",
                "pressure": self.pressure, "pressure_GPa": self.pressure / GPA_TO_EV_PER_A3,
                "T0": float(self.temperatures[0]), "T1": float(self.temperatures[-1]),
                "G0": self.G0, "sigma_G0": self.sigma_G0, "n_cell": self.n_cell,
                "temperatures": rows, "anchor": self.anchor.to_dict(), "npt": self.npt,
                "settings": self.settings, "warnings": self.warnings,
                "units": {"G": "eV/atom", "volume": "Å³/atom", "T": "K",
                          "pressure": "eV/Å³"}}


def _molten(atoms: Atoms, target: PairPotential, t0: float, settings: LiquidSettings,
            md_settings: LiquidMDSettings, seed: int) -> Atoms:
    """``atoms`` with the positions of its melt at melt_factor·T0 (fixed cell)."""
    where = f"{describe_liquid(atoms)} at {t0:g} K (melting for NPT)"
    md = LiquidMD(atoms, target, UFSettings(), t0, md_settings, label=where)
    try:
        melt(md, LiquidGuard(atoms, where), settings,
             np.random.default_rng(np.random.SeedSequence([seed, 10])), None)
        out = atoms.copy()
        out.positions = md.positions()
    finally:
        md.close()
    return out


def liquid_reversible_scaling(
    atoms: Atoms, potential: LinearPotential | PairPotential, t0: float, t1: float,
    pressure: float = 0.0, temperatures: Sequence[float] | None = None, *,
    sweep: SweepSettings | None = None, repeats: int = 2, steps: int | None = None,
    seed: int = 0, checkpoint: str | Path | None = None, progress: bool | str = False,
    npt_steps: int = 10_000, npt_settings: NPTSettings | None = None,
    uf: UFSettings | None = None, lambda_settings: LiquidSettings | None = None,
    md_settings: LiquidMDSettings | None = None,
) -> LiquidSweepResult:
    """G(T) per atom of a liquid at pressure P from T0 to T1 (module doc).

    Args:
        atoms: a crystal with the wanted N (melted first).
        potential: the LAMMPS potential.
        t0, t1: anchor and last temperature, K (0 < T0 < T1).
        pressure: eV/Å³.
        temperatures: output grid within [T0, T1] (default 21 points).
        sweep: sweep length and equilibration.
        repeats, steps, seed, uf, lambda_settings, md_settings: of the anchor's liquid TI.
        checkpoint: JSON file of the NPT run and the sweeps; the anchor TI uses
            ``<stem>.ti.json``.
        npt_steps, npt_settings: the NPT run at (P, T0).

    Returns:
        :class:`LiquidSweepResult`.
    """
    pressure = check_pressure(pressure)
    t0, t1, grid = sweep_grid(t0, t1, temperatures)
    sweep = sweep or SweepSettings()
    npt_settings = npt_settings or NPTSettings()
    md_settings = md_settings or LiquidMDSettings()
    path = (lambda_settings or LiquidSettings()).rounded(md_settings.stride)
    n = len(atoms)
    spec = {"structure": describe_liquid(atoms), "cell": np.round(np.array(atoms.cell), 8).tolist(),
            "potential": potential_fingerprint(potential), "pressure": pressure, "T0": t0,
            "npt": npt_settings.to_dict(), "npt_steps": npt_steps, "seed": seed,
            "melt": [path.melt_factor, path.melt_steps]}
    store = StageStore(checkpoint, spec)
    cpu = time.process_time()
    with tempfile.TemporaryDirectory() as workdir:
        target = pair_form(potential, workdir)
        liquid = _molten(atoms, target, t0, path, md_settings, seed)
    npt = store.get("npt")
    if npt is None:
        npt = npt_volume(liquid, potential, t0, pressure, steps=npt_steps, seed=seed,
                         settings=npt_settings, basin=False).to_dict()
        store.put("npt", npt)
    cell = np.array(npt["cell"])
    anchor = liquid_free_energy(with_cell(atoms, cell), potential, [t0], repeats=repeats,
                                steps=steps, seed=seed, checkpoint=store.sibling("ti"),
                                progress=progress, uf=uf, lambda_settings=path,
                                md_settings=md_settings)
    point = anchor.points[0]
    v0, sv0 = float(npt["volume"]), float(npt["sigma_volume"])
    g0 = point.F_com_fixed + pressure * v0
    s_g0 = float(np.hypot(point.sigma, pressure * sv0))
    key = f"sweeps|T1={t1:.6f}|steps={sweep.sweep_steps}|equilibration={sweep.equilibration}"
    data = store.get(key)
    if data is None:
        from ..progress import progress_bar

        start = with_cell(liquid, cell)
        with progress_bar(2 * (sweep.sweep_steps + sweep.equilibration), "reversible scaling",
                          progress) as bar:
            data = run_sweeps(start, potential, t0, t1, pressure, sweep, npt_settings, seed,
                              basin=False, progress=bar.update)
        store.put(key, data)
    lam_grid = t0 / grid
    legs = {}
    for direction in ("forward", "backward"):
        lam, u, v = (np.array(data[direction][k]) for k in ("lam", "U", "V"))
        legs[direction] = (lam, u + pressure * v, v)
    delta, half = sweep_difference(lam_grid, legs["forward"][:2], legs["backward"][:2])
    n_cell = CELL_VARIABLES[data["coupling"]]
    g = scaling_free_energy(grid, t0, g0, delta, n, n_cell)
    width = max(1, int(sweep.smoothing * len(legs["forward"][0])))
    vol = 0.5 * (_at(lam_grid, legs["forward"][0], _smooth(legs["forward"][2], width))
                 + _at(lam_grid, legs["backward"][0], _smooth(legs["backward"][2], width)))
    mass = float(atoms.get_masses()[0])
    f_trans = np.array([com_translation_free_energy(t, n, mass, v * n, n)
                        for t, v in zip(grid, vol, strict=True)])
    s_anchor, s_hyst = s_g0 * grid / t0, half * grid / t0
    return LiquidSweepResult(
        anchor=anchor, npt=npt, pressure=pressure, G0=g0, sigma_G0=s_g0, temperatures=grid,
        G_com_fixed=g, G_phys=g + f_trans, sigma=np.hypot(s_anchor, s_hyst),
        sigma_anchor=s_anchor, sigma_hysteresis=s_hyst, volume=vol, n_cell=n_cell,
        settings={"sweep": sweep.to_dict(), "npt": npt_settings.to_dict(),
                  "npt_steps": npt_steps, "coupling": data["coupling"],
                  "cpu_seconds": time.process_time() - cpu},
        warnings=list(anchor.warnings))
