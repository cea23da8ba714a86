"""Reversible scaling at fixed pressure: G(T) from T0 to T1 in one MD sweep (de Koning,
Antonelli, Yip, Phys. Rev. Lett. 83, 3973 (1999)); the formula is derived in docs/ti.md §11.

The MD runs at the simulation temperature T0 with the potential λU_θ and the simulation pressure
λP (COM fixed, :mod:`~phasetune.ti.barostat`).  Its configurational weight
exp[−β0λ(U_θ + PV)] is that of the physical crystal at T = T0/λ and pressure P.  Along a sweep of
λ, with y = (U_θ + PV)/N per atom and the dissipative works W_fwd(1 → λ) = ∫₁^λ y dλ′ and
W_bwd(λ → 1) (the return sweep), the simulation Gibbs energy changes by

    ΔG_sim(λ) ≈ ½[W_fwd(1 → λ) − W_bwd(λ → 1)],     error ½|W_fwd(1 → λ) + W_bwd(λ → 1)|,

and, with r = 3 − 3/N momenta per atom (COM fixed) and n_c fluctuating cell variables (1 for iso,
3 for aniso, 6 for tri),

    G(T) = [G(T0) + ΔG_sim(λ)]/λ + ½(r − n_c/N) k_BT ln λ,      λ = T0/T,

where G = F^(3N−3)(⟨V⟩) + P⟨V⟩ (the anchor's definition, :mod:`~phasetune.ti.gibbs`).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3, KB
from ..conventions import Conventions
from ..errors import PhasetuneError
from ..harmonic.reference import describe
from ..model.harmonic import com_translation_free_energy
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from .barostat import LAMBDA_REC, U_THETA, VOLUME, BarostatMD, NPTSettings
from .basin import CrystalLeftBasinError
from .checkpoint import StageStore
from .gibbs import GibbsResult, gibbs_free_energy, potential_fingerprint
from .md import lammps_seed
from .npt import NPTGuard, check_pressure, site_reference, with_cell
from .result import convention_variants, selected_key

CELL_VARIABLES = {"iso": 1, "aniso": 3, "tri": 6}
"""Fluctuating cell variables n_c of each barostat coupling."""
VOLUME_HYSTERESIS = 0.01
"""Largest |V_fwd − V_bwd|/V along the sweep before a warning (a transformation on the way)."""


# -- the formula -------------------------------------------------------------------------------
def cumulative_work(lam: np.ndarray, y: np.ndarray) -> np.ndarray:
    """∫_{λ_0}^{λ_i} y dλ′ (trapezoid, signed by the direction of travel), (n,) eV/atom.

    Args:
        lam: (n,) λ along the sweep, in the order sampled (monotonic).
        y: (n,) ∂H/∂λ per atom, (U_θ + PV)/N, eV/atom.
    """
    lam, y = np.asarray(lam, dtype=float), np.asarray(y, dtype=float)
    return np.concatenate([[0.0], np.cumsum(0.5 * (y[1:] + y[:-1]) * np.diff(lam))])


def _at(lam_grid: np.ndarray, lam: np.ndarray, values: np.ndarray) -> np.ndarray:
    order = np.argsort(lam)
    return np.interp(lam_grid, lam[order], values[order])


def sweep_difference(lam_grid: np.ndarray, forward: tuple[np.ndarray, np.ndarray],
                     backward: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """ΔG_sim(λ) = G_sim(λ) − G_sim(1) and its error from a forward (1 → λ1) and a backward
    (λ1 → 1) sweep, on ``lam_grid`` (values inside [λ1, 1]).

    Args:
        lam_grid: (n_T,) λ values.
        forward, backward: (λ, y) sample arrays of each sweep (y per atom, eV/atom).

    Returns:
        (ΔG_sim, ½|hysteresis|), each (n_T,) eV/atom: the mean of the forward work and minus the
        backward work, and half their sum (the dissipation of the round trip to λ).
    """
    lf, yf = map(np.asarray, forward)
    lb, yb = map(np.asarray, backward)
    w_fwd = _at(lam_grid, lf, cumulative_work(lf, yf))          # W(1 → λ)
    cb = cumulative_work(lb, yb)
    w_bwd = cb[-1] - _at(lam_grid, lb, cb)                       # W(λ → 1)
    return 0.5 * (w_fwd - w_bwd), 0.5 * np.abs(w_fwd + w_bwd)


def scaling_free_energy(temperatures: np.ndarray, t0: float, g0: float, delta: np.ndarray,
                        n_atoms: int, n_cell: int = 1) -> np.ndarray:
    """G^(3N−3)(T) per atom from the anchor G(T0) and ΔG_sim(λ = T0/T) (module doc).

    Args:
        temperatures: (n_T,) K.
        t0: anchor (simulation) temperature, K.
        g0: G(T0) per atom, eV/atom (COM-fixed convention, G = F^(3N−3) + PV).
        delta: (n_T,) ΔG_sim(T0/T) per atom, eV/atom.
        n_atoms: N.
        n_cell: fluctuating cell variables (1 iso, 3 aniso, 6 tri).
    """
    t = np.asarray(temperatures, dtype=float)
    lam = t0 / t
    r = 3.0 - 3.0 / n_atoms
    return (g0 + np.asarray(delta)) / lam + 0.5 * (r - n_cell / n_atoms) * KB * t * np.log(lam)


# -- the sweep ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepSettings:
    """Reversible-scaling sweep settings.

    Attributes:
        sweep_steps: MD steps of each sweep (forward and backward), λ linear in time.
        equilibration: steps at constant λ before each sweep (at T0, then at T1).
        smoothing: fraction of a sweep over which V is averaged for the reported V(T).
    """

    sweep_steps: int = 20_000
    equilibration: int = 2000
    smoothing: float = 0.1

    def __post_init__(self) -> None:
        if self.sweep_steps <= 0 or self.equilibration < 0:
            raise PhasetuneError("a sweep needs positive --sweep-steps")

    def to_dict(self) -> dict:
        return {"sweep_steps": self.sweep_steps, "equilibration": self.equilibration,
                "smoothing": self.smoothing}


def run_sweeps(atoms: Atoms, potential: LinearPotential | PairPotential, t0: float, t1: float,
               pressure: float, settings: SweepSettings, npt: NPTSettings, seed: int,
               basin: bool = True, progress: Callable[[int], None] | None = None) -> dict:
    """Forward (λ: 1 → T0/T1) and backward sweeps at simulation temperature T0.

    Returns a dict of lists: ``forward`` and ``backward`` each with ``lam``, ``U`` (U_θ/N) and
    ``V`` (V_box/N) per record, plus ``coupling`` and guard ``diagnostics``.
    """
    lam1 = t0 / t1
    stride = npt.stride
    n_sweep = max(stride, -(-settings.sweep_steps // stride) * stride)
    n_eq = -(-settings.equilibration // stride) * stride
    rng = np.random.default_rng(np.random.SeedSequence([seed, 6, int(round(t0 * 1000)),
                                                        int(round(t1 * 1000))]))
    name = describe(atoms)
    out: dict = {}
    with ExitStack() as stack:
        workdir = stack.enter_context(tempfile.TemporaryDirectory())
        target = pair_form(potential, workdir)
        md = BarostatMD(atoms, target, t0, npt, label=f"{name}, reversible-scaling sweep")
        stack.callback(md.close)
        guard = NPTGuard(atoms, target, name) if basin else None
        if guard is not None:
            stack.callback(guard.close)

        def check(m: BarostatMD) -> None:
            if guard is None:
                return
            guard.guard.context = (f"{name}, reversible-scaling sweep at "
                                   f"T ≈ {t0 / m.lam_now():.0f} K, P = "
                                   f"{pressure / GPA_TO_EV_PER_A3:g} GPa")
            guard(m)

        def hot_quench(m: BarostatMD) -> None:
            if guard is not None:
                check(m)
                guard.quench(m)

        n = len(atoms)
        md.set_velocities(site_reference(atoms).sample_velocities(rng, t0))
        try:
            legs = (("forward", (1.0, lam1)), ("backward", (lam1, 1.0)))
            for direction, (la, lb) in legs:
                if n_eq:
                    md.set_path((la, la), (la * pressure, la * pressure), lammps_seed(rng))
                    md.run(n_eq, record=(), check=check, progress=progress)
                md.set_path((la, lb), (la * pressure, lb * pressure), lammps_seed(rng))
                rec = md.run(n_sweep, record=(LAMBDA_REC, U_THETA, VOLUME), check=check,
                             progress=progress)
                hot_quench(md)
                out[direction] = {"lam": rec[:, 1].tolist(), "U": (rec[:, 2] / n).tolist(),
                                  "V": (rec[:, 3] / n).tolist()}
        except CrystalLeftBasinError as exc:
            raise CrystalLeftBasinError(
                exc.message, f"end the sweep below that temperature (--sweep-to below "
                f"{t0 / md.lam_now():.0f} K): the crystal melted or transformed; a larger cell "
                "superheats less") from exc
        out["coupling"] = md.coupling
        out["diagnostics"] = guard.diagnostics() if guard is not None else {}
        out["n_steps"] = md.step
    return out


@dataclass
class SweepResult:
    """G(T) per atom at fixed pressure from one TI anchor and a reversible-scaling sweep.

    Attributes:
        anchor: the constant-pressure TI at T0.
        pressure: eV/Å³.
        temperatures: (n_T,) K, T0 first.
        G_com_fixed: (n_T,) G^(3N−3) = F^(3N−3) + PV per atom, eV/atom.
        sigma: (n_T,) total standard error: the anchor's (× T/T0) and ½|hysteresis|/λ.
        sigma_anchor, sigma_hysteresis: (n_T,) the two parts, eV/atom.
        volume, volume_forward, volume_backward: (n_T,) ⟨V⟩/N along the sweeps, Å³/atom.
        n_cell: fluctuating cell variables of the barostat.
        sweeps: the raw sweeps (λ, U/N, V/N per record).
    """

    anchor: GibbsResult
    pressure: float
    temperatures: np.ndarray
    G_com_fixed: np.ndarray
    sigma: np.ndarray
    sigma_anchor: np.ndarray
    sigma_hysteresis: np.ndarray
    volume: np.ndarray
    volume_forward: np.ndarray
    volume_backward: np.ndarray
    n_cell: int
    settings: dict
    sweeps: dict = field(repr=False, default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def conventions(self) -> Conventions:
        return self.anchor.conventions

    def variants(self) -> dict[str, np.ndarray]:
        """G_3N-3, G_3N, G_phys (n_T,) eV/atom.  G_3N uses the anchor's harmonic modes for the
        mode-count shift; G_phys the COM term at the sweep's ⟨V⟩(T)."""
        ti = self.anchor.points[0].ti
        h = ti.harmonic
        shift = np.array([convention_variants(0.0, t, h)["harmonic_shift"]
                          for t in self.temperatures])
        f_trans = np.array([com_translation_free_energy(t, h.n_atoms, h.mass, v * h.n_atoms,
                                                        h.n_trans)
                            for t, v in zip(self.temperatures, self.volume, strict=True)])
        g = self.G_com_fixed
        return {"G_3N-3": g, "G_3N": g - shift, "G_phys": g + f_trans}

    @property
    def G(self) -> np.ndarray:
        """(n_T,) G in the selected convention, eV/atom."""
        return self.variants()["G" + selected_key(self.conventions)[1:]]

    def to_dict(self) -> dict:
        variants = self.variants()
        key = "G" + selected_key(self.conventions)[1:]
        rows = [{"T": float(t), "G": float(variants[key][i]), "sigma": float(self.sigma[i]),
                 **{k: float(v[i]) for k, v in variants.items()},
                 "sigma_anchor": float(self.sigma_anchor[i]),
                 "sigma_hysteresis": float(self.sigma_hysteresis[i]),
                 "volume": float(self.volume[i]),
                 "volume_forward": float(self.volume_forward[i]),
                 "volume_backward": float(self.volume_backward[i])}
                for i, t in enumerate(self.temperatures)]
        return {"structure": self.anchor.structure, "potential": self.anchor.potential,
                "method": "reversible scaling at fixed pressure "
                          f"(anchor: {self.anchor.to_dict()['method']})",
                "pressure_GPa": self.pressure / GPA_TO_EV_PER_A3, "pressure": self.pressure,
                "T0": float(self.temperatures[0]), "T1": float(self.temperatures[-1]),
                "convention": self.conventions.as_dict(), "reported_G": key,
                "n_cell": self.n_cell, "anchor": self.anchor.to_dict(), "temperatures": rows,
                "settings": self.settings, "warnings": self.warnings,
                "units": {"G": "eV/atom", "volume": "Å³/atom", "T": "K", "pressure": "eV/Å³"}}


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1 or len(x) < width:
        return x
    kernel = np.ones(width) / width
    padded = np.pad(x, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def sweep_grid(t0: float, t1: float, temperatures: Sequence[float] | None,
               hint: str | None = None) -> tuple[float, float, np.ndarray]:
    """Check a sweep T0 → T1 and its output grid (default 21 points), K.

    Returns:
        (t0, t1, grid): floats and the sorted, distinct output temperatures.
    """
    t0, t1 = float(t0), float(t1)
    if not 0 < t0 < t1:
        raise PhasetuneError(f"a sweep needs 0 < T0 < T1, got T0 = {t0:g} K and T1 = {t1:g} K",
                             hint)
    grid = np.linspace(t0, t1, 21) if temperatures is None else \
        np.array(sorted({float(t) for t in temperatures}))
    if grid.min() < t0 or grid.max() > t1:
        raise PhasetuneError("the output temperatures must lie within the sweep [T0, T1]")
    return t0, t1, grid


def reversible_scaling(
    atoms: Atoms, potential: LinearPotential | PairPotential, t0: float, t1: float,
    pressure: float = 0.0, temperatures: Sequence[float] | None = None, *,
    sweep: SweepSettings | None = None, anchor: GibbsResult | None = None,
    method: str = "lambda", repeats: int = 3, conventions: Conventions | None = None,
    steps: int | None = None, seed: int = 0, checkpoint: str | Path | None = None,
    progress: bool | str = True, npt_steps: int = 10_000,
    npt_settings: NPTSettings | None = None, basin: bool = True, **ti_kwargs,
) -> SweepResult:
    """G(T) per atom at pressure P from T0 to T1: TI anchor at T0 plus one reversible-scaling
    round trip (module doc).

    Args:
        atoms: the starting crystal.
        potential: the LAMMPS potential.
        t0: anchor temperature, K (the sweep's simulation temperature).
        t1: last temperature, K (> t0).
        pressure: eV/Å³.
        temperatures: output grid (K, within [t0, t1]); default 21 points from t0 to t1.
        sweep: sweep length and equilibration.
        anchor: a finished :func:`~phasetune.ti.gibbs.gibbs_free_energy` at (P, t0) (else run).
        method, repeats, conventions, steps, seed, progress, npt_steps, npt_settings, basin,
            ti_kwargs: as :func:`~phasetune.ti.gibbs.gibbs_free_energy` (for the anchor).
        checkpoint: JSON file of the anchor's stages; the sweeps go to ``<stem>.sweep.json``.
            A finished anchor or round trip is never recomputed.

    Returns:
        :class:`SweepResult`.
    """
    pressure = check_pressure(pressure)
    t0, t1, grid = sweep_grid(t0, t1, temperatures,
                              "give one anchor temperature (-T) below --sweep-to")
    sweep = sweep or SweepSettings()
    npt_settings = npt_settings or NPTSettings()
    if anchor is None:
        anchor = gibbs_free_energy(atoms, potential, [t0], pressure, method=method,
                                   repeats=repeats, conventions=conventions, steps=steps,
                                   seed=seed, checkpoint=checkpoint, progress=progress,
                                   npt_steps=npt_steps, npt_settings=npt_settings, basin=basin,
                                   **ti_kwargs)
    point = anchor.points[0]
    if abs(point.temperature - t0) > 1e-9 or abs(anchor.pressure - pressure) > 1e-12:
        raise PhasetuneError("the anchor is for another temperature or pressure")
    start = with_cell(atoms, point.npt.cell)
    spec = {"structure": describe(start), "cell": np.round(np.array(start.cell), 8).tolist(),
            "potential": potential_fingerprint(potential), "pressure": pressure, "T0": t0,
            "npt": npt_settings.to_dict(), "seed": seed, "basin": basin}
    path = None if checkpoint is None else \
        Path(checkpoint).with_name(f"{Path(checkpoint).stem}.sweep.json")
    store = StageStore(path, spec)
    cpu = time.process_time()
    key = f"sweeps|T1={t1:.6f}|steps={sweep.sweep_steps}|equilibration={sweep.equilibration}"
    data = store.get(key)  # one file holds round trips of several lengths and end points
    if data is None:
        from ..progress import progress_bar

        total = 2 * (sweep.sweep_steps + sweep.equilibration)
        with progress_bar(total, "reversible scaling", progress) as bar:
            data = run_sweeps(start, potential, t0, t1, pressure, sweep, npt_settings, seed,
                              basin, bar.update)
        data["cpu_seconds"] = time.process_time() - cpu
        store.put(key, data)
    return _analyse(anchor, data, grid, pressure, sweep, len(atoms))


def _analyse(anchor: GibbsResult, data: dict, grid: np.ndarray, pressure: float,
             sweep: SweepSettings, n_atoms: int) -> SweepResult:
    t0 = anchor.points[0].temperature
    lam_grid = t0 / grid
    legs = {}
    for direction in ("forward", "backward"):
        leg = data[direction]
        lam, u, v = (np.array(leg[k]) for k in ("lam", "U", "V"))
        legs[direction] = (lam, u + pressure * v, v)
    delta, half_hyst = sweep_difference(lam_grid, legs["forward"][:2], legs["backward"][:2])
    point = anchor.points[0]
    g0 = point.variants()["G_3N-3"]
    n_cell = CELL_VARIABLES[data["coupling"]]
    g = scaling_free_energy(grid, t0, g0, delta, n_atoms, n_cell)
    sigma_anchor = point.sigma * grid / t0
    sigma_hyst = half_hyst * grid / t0
    width = max(1, int(sweep.smoothing * len(legs["forward"][0])))
    v_f = _at(lam_grid, legs["forward"][0], _smooth(legs["forward"][2], width))
    v_b = _at(lam_grid, legs["backward"][0], _smooth(legs["backward"][2], width))
    warnings = list(anchor.warnings)
    # the ends of the smoothed series are one-sided (and lag the barostat): interior points only
    inner = slice(1, -1) if len(grid) > 2 else slice(None)
    rel = np.abs(v_f - v_b)[inner] / (0.5 * (v_f + v_b))[inner]
    jump = float(rel.max())
    if jump > VOLUME_HYSTERESIS:
        i = int(np.argmax(rel)) + (1 if len(grid) > 2 else 0)
        warnings.append(f"forward and backward sweeps differ in volume by {100 * jump:.2f} % "
                        f"(largest at {grid[i]:.0f} K): a transformation or a sweep too fast; "
                        "lengthen --sweep-steps or lower --sweep-to")
    settings = {**sweep.to_dict(), "schedule": "λ linear in time, T = T0/λ",
                "cpu_seconds": data.get("cpu_seconds"), "n_steps": data.get("n_steps"),
                "coupling": data["coupling"], "diagnostics": data.get("diagnostics", {})}
    return SweepResult(anchor=anchor, pressure=pressure, temperatures=grid, G_com_fixed=g,
                       sigma=np.hypot(sigma_anchor, sigma_hyst), sigma_anchor=sigma_anchor,
                       sigma_hysteresis=sigma_hyst, volume=0.5 * (v_f + v_b),
                       volume_forward=v_f, volume_backward=v_b, n_cell=n_cell,
                       settings=settings, sweeps=data, warnings=warnings)
