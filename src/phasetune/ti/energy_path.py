"""Energy-path TI: F(U_1) − F(U_0) between any two LAMMPS potentials of the same crystal.

On the mixed Hamiltonian U_λ = (1 − λ)U_0 + λU_1 at fixed N, cell and T the free energy per atom
obeys

    dF/dλ = f(λ) = ⟨U_1 − U_0⟩_λ / N,        f′(λ) = −βN·Var_λ((U_1 − U_0)/N),

whatever the form of the potentials (linear SNAP, ML-IAP ``nn``, EAM, with or without ZBL), so
δF = F(U_1) − F(U_0) needs no linearity in the parameters.  Two quadratures, reported side by
side when both are run:

* Gauss–Legendre nodes λ_k (weights w_k on [0, 1]): δF = Σ_k w_k f(λ_k);
* the two ends with the Euler–Maclaurin corrected trapezoid (as route C,
  :mod:`~phasetune.ti.theta_path`): δF = ½[f(0) + f(1)] + (βN/12)[Var_1 − Var_0] + O(f‴).

Both potentials live in one ``pair_style hybrid/scaled`` (:class:`~phasetune.ti.md.CoupledMD` in
``mode="energy"``), U_0 and U_1 are read from per-sub-style ``compute pair`` (two ``mliap``
models become ``mliap 1`` and ``mliap 2``); every step evaluates both potentials, so a segment
costs about twice an MD step of one of them.  Every segment is Langevin NVT with the COM fixed,
started from an exact harmonic draw of U_0's reference; the basin guard quenches with U_0.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field

import numpy as np
from ase import Atoms

from ..errors import PhasetuneError
from ..harmonic.reference import describe
from ..model import HarmonicReference
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from ..structures.crystals import check_cell_size
from .api import _check_temperatures, harmonic_reference
from .basin import BasinGuard
from .checkpoint import Checkpoint
from .md import U_END, U_START, U_THETA, CoupledMD, MDSettings, check_route_steps, lammps_seed
from .result import PointColumns, RepeatRecord, TIResult, convention_variants
from .stats import gauss_legendre, summarize_series
from .theta_path import end_point_difference

METHOD = "energy-path"


@dataclass(frozen=True)
class EnergyPathSettings:
    """Which λ are sampled and for how long.

    Attributes:
        n_nodes: Gauss–Legendre nodes in λ (0: none).
        ends: also sample λ = 0 and λ = 1 (the Euler–Maclaurin end-point estimate).
        equilibration: MD steps discarded per λ.
        production: MD steps recorded per λ.
    """

    n_nodes: int = 4
    ends: bool = True
    equilibration: int = 1000
    production: int = 4000

    def __post_init__(self) -> None:
        if self.n_nodes < 0 or (self.n_nodes == 1) or (self.n_nodes == 0 and not self.ends):
            raise PhasetuneError("the energy path needs ≥ 2 Gauss–Legendre nodes or the ends",
                                 "use --nodes ≥ 2, or keep the ends")
        if self.production <= 0 or self.equilibration < 0:
            raise PhasetuneError("the energy path needs positive production steps")

    def lambdas(self) -> list[float]:
        """Every sampled λ, descending (ends first and last when sampled)."""
        nodes = gauss_legendre(self.n_nodes)[0].tolist() if self.n_nodes else []
        return sorted(nodes + ([0.0, 1.0] if self.ends else []), reverse=True)

    def to_dict(self) -> dict:
        return asdict(self)


def _segment(md: CoupledMD, harmonic: HarmonicReference, lam: float,
             settings: EnergyPathSettings, rng: np.random.Generator, guard: BasinGuard | None,
             progress: Callable[[int], None] | None) -> dict:
    """One NVT segment at λ from a harmonic draw: statistics of Δ = (U_1 − U_0)/N, eV/atom.

    Returns a dict: ``lambda``, the :class:`~phasetune.ti.stats.SeriesSummary` fields of Δ,
    ``var`` (variance of Δ over the retained samples, eV²), ``mix_error`` (largest
    |U_λ − (1 − λ)U_0 − λU_1|/N seen, eV/atom: a consistency check of the sub-style energies)
    and the quench diagnostics.
    """
    t, n = md.temperature, md.n_atoms
    md.set_lambda(lam)
    md.set_state(harmonic.sample_displacements(rng, t), harmonic.sample_velocities(rng, t))
    md.set_thermostat(lammps_seed(rng))
    if settings.equilibration:
        md.run(settings.equilibration, record=(), check=guard, progress=progress)
    rec = md.run(settings.production, record=(U_THETA, U_START, U_END), check=guard,
                 progress=progress)
    quench = guard.check_quench(md.positions()) if guard is not None else {}
    delta = (rec[:, 3] - rec[:, 2]) / n
    summary = summarize_series(delta)
    kept = delta[summary.discarded:]
    mix = np.abs(rec[:, 1] - (1.0 - lam) * rec[:, 2] - lam * rec[:, 3]).max() / n
    return {"lambda": float(lam), **summary.to_dict(),
            "var": float(kept.var(ddof=1)) if len(kept) > 1 else 0.0,
            "mix_error": float(mix), "quench": quench}


@dataclass
class EnergyPathPoint:
    """δF = F(U_1) − F(U_0) per atom at one temperature, from the repeats (eV/atom).

    Attributes:
        temperature: K.
        repeats: the checkpointed repeats (components hold the per-λ statistics).
        n_atoms: N.
        settings: the path settings (which estimates exist).
    """

    temperature: float
    repeats: list[RepeatRecord]
    n_atoms: int
    settings: EnergyPathSettings

    def _per_repeat(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(values, block errors) of one estimate (``gauss_legendre`` or ``ends``) per repeat."""
        values, blocks = [], []
        for r in self.repeats:
            segs = {s["lambda"]: s for s in r.components["segments"]}
            if kind == "gauss_legendre":
                lam, w = gauss_legendre(self.settings.n_nodes)
                means = np.array([segs[float(x)]["mean"] for x in lam])
                errs = np.array([segs[float(x)]["error"] for x in lam])
                values.append(float(w @ means))
                blocks.append(float(np.sqrt((w**2) @ errs**2)))
            else:
                a, b = segs[0.0], segs[1.0]
                values.append(float(end_point_difference(a["mean"], b["mean"], a["var"],
                                                         b["var"], self.temperature,
                                                         self.n_atoms)))
                blocks.append(0.5 * float(np.hypot(a["error"], b["error"])))
        return np.array(values), np.array(blocks)

    def estimate(self, kind: str) -> dict | None:
        """Mean over repeats and σ = max(spread of repeats, combined block error), eV/atom;
        None when that quadrature was not run."""
        if (kind == "gauss_legendre" and not self.settings.n_nodes) or \
                (kind == "ends" and not self.settings.ends):
            return None
        values, blocks = self._per_repeat(kind)
        block = float(np.sqrt(np.sum(blocks**2)) / len(values))
        spread = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else block
        out = {"delta_F": float(values.mean()), "sigma": max(spread, block),
               "sigma_repeats": spread if len(values) > 1 else float("nan"),
               "sigma_block": block, "repeats": values.tolist()}
        if kind == "ends":
            trap = [0.5 * (s[0.0]["mean"] + s[1.0]["mean"]) for s in
                    ({x["lambda"]: x for x in r.components["segments"]} for r in self.repeats)]
            out["trapezoid"] = float(np.mean(trap))
            out["correction"] = out["delta_F"] - out["trapezoid"]
        return out

    @property
    def best(self) -> dict:
        """The reported estimate: Gauss–Legendre when run, else the ends."""
        return self.estimate("gauss_legendre") or self.estimate("ends")

    @property
    def delta_F(self) -> float:
        return self.best["delta_F"]

    @property
    def sigma(self) -> float:
        return self.best["sigma"]

    def segments(self) -> list[dict]:
        """Per λ: mean f(λ) = ⟨U_1 − U_0⟩_λ/N and Var_λ over repeats (eV/atom, eV²)."""
        rows = []
        for lam in self.settings.lambdas():
            segs = [next(s for s in r.components["segments"] if s["lambda"] == lam)
                    for r in self.repeats]
            means = np.array([s["mean"] for s in segs])
            rows.append({"lambda": lam, "f": float(means.mean()),
                         "f_error": float(means.std(ddof=1) / np.sqrt(len(means)))
                         if len(means) > 1 else segs[0]["error"],
                         "var": float(np.mean([s["var"] for s in segs])),
                         "mix_error": float(max(s["mix_error"] for s in segs)),
                         "equilibrated": all(s["equilibrated"] for s in segs)})
        return rows

    def to_dict(self) -> dict:
        return {"T": self.temperature, "delta_F": self.delta_F, "sigma": self.sigma,
                "quadrature": "gauss_legendre" if self.settings.n_nodes else "ends",
                "gauss_legendre": self.estimate("gauss_legendre"),
                "ends": self.estimate("ends"), "segments": self.segments(),
                "n_repeats": len(self.repeats),
                "equilibrated": all(r.equilibrated for r in self.repeats),
                "cpu_seconds": float(sum(r.cpu_seconds for r in self.repeats)),
                "n_steps": int(sum(r.n_steps for r in self.repeats)),
                "repeats": [r.to_dict() for r in self.repeats]}


@dataclass
class EnergyPathResult(PointColumns):
    """F(U_1) − F(U_0) per atom over temperatures, and F(U_1) when U_0's absolute TI is given.

    Attributes:
        structure: description (prototype, element, N, volume).
        start, end: descriptions of U_0 and U_1 (name, commands, sha256).
        points: one :class:`EnergyPathPoint` per temperature.
        settings: MD and path settings, repeats, seed.
        anchor: the absolute TI of U_0 at the same temperatures, or None.
        end_harmonic: U_1's harmonic reference (mode-count conversion of F(U_1)), or None.
        warnings: non-fatal problems.
    """

    structure: str
    start: dict
    end: dict
    points: list[EnergyPathPoint]
    settings: dict
    anchor: TIResult | None = None
    end_harmonic: HarmonicReference | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)

    @property
    def delta_F(self) -> np.ndarray:
        """(n_T,) F(U_1) − F(U_0), eV/atom (Gauss–Legendre when run, else the ends; σ in
        :attr:`sigma`)."""
        return np.array([p.delta_F for p in self.points])

    def end_free_energy(self) -> list[dict] | None:
        """F(U_1) per temperature from the anchor: F^{(3−3/N)}(U_1) = F^{(3−3/N)}(U_0) + δF
        (both COM fixed), then the three conventions with U_1's harmonic modes; eV/atom."""
        if self.anchor is None or self.end_harmonic is None:
            return None
        rows = []
        for p, a in zip(self.points, self.anchor.points, strict=True):
            f = a.F_com_fixed + p.delta_F
            sigma = float(np.hypot(a.sigma, p.sigma))
            variants = convention_variants(f, p.temperature, self.end_harmonic)
            key = "F_3N" if self.anchor.conventions.modes == "3N" else "F_3N-3"
            rows.append({"T": p.temperature, "F": variants[key], "sigma": sigma, **variants,
                         "F_start": a.F, "sigma_start": a.sigma})
        return rows

    def to_dict(self) -> dict:
        return {"structure": self.structure, "method": METHOD, "start": self.start,
                "end": self.end, "settings": self.settings,
                "units": {"delta_F": "eV/atom", "F": "eV/atom", "T": "K", "var": "eV²",
                          "cpu_seconds": "s"},
                "temperatures": [p.to_dict() for p in self.points],
                "F_end": self.end_free_energy(),
                "anchor": self.anchor.to_dict() if self.anchor is not None else None,
                "warnings": self.warnings,
                "cpu_seconds": float(sum(r.cpu_seconds for p in self.points
                                         for r in p.repeats))}


def _warnings(points: list[EnergyPathPoint]) -> list[str]:
    out = []
    for p in points:
        if not all(r.equilibrated for r in p.repeats):
            out.append(f"T = {p.temperature:g} K: some segments failed the equilibration check "
                       "(drift or late equilibration); consider more --steps")
        both = p.estimate("gauss_legendre"), p.estimate("ends")
        if all(both):
            gap = abs(both[0]["delta_F"] - both[1]["delta_F"])
            if gap > 3 * np.hypot(both[0]["sigma"], both[1]["sigma"]):
                out.append(f"T = {p.temperature:g} K: Gauss–Legendre and end-point estimates "
                           f"differ by {1e3 * gap:.3f} meV/atom (> 3σ): f(λ) is far from "
                           "cubic; use more nodes")
        if len(p.repeats) < 2:
            out.append(f"T = {p.temperature:g} K: one repeat; σ is the block error alone")
    return out


def energy_path(
    atoms: Atoms, start: LinearPotential | PairPotential, end: LinearPotential | PairPotential,
    temperatures: Sequence[float] | float, repeats: int = 2, seed: int = 0,
    checkpoint: str | None = None, progress: bool | str = True, *,
    reference: HarmonicReference | None = None, md_settings: MDSettings | None = None,
    settings: EnergyPathSettings | None = None, basin: bool = True,
    anchor: TIResult | None = None,
) -> EnergyPathResult:
    """F(U_1) − F(U_0) per atom by integration along U_λ = (1 − λ)U_0 + λU_1 (module doc).

    Args:
        atoms: the crystal at its volume.
        start: U_0 (any LAMMPS potential; a LinearPotential is written out).
        end: U_1, same elements.
        temperatures: K.
        repeats: independent repeats (each samples every λ); ≥ 2 for an error bar from their
            spread.
        seed: base seed; repeat seeds derive from (seed, T, repeat).
        checkpoint: JSON file of finished repeats (resumable), or None.
        progress: True (bar), ``"lines"`` (one-line reports on stderr) or False.
        reference: the harmonic reference whose draws start each segment (default: U_0's own
            Hessian).
        md_settings, settings: MD and path settings.
        basin: stop with :class:`~phasetune.ti.basin.CrystalLeftBasinError` on melting.
        anchor: an absolute TI of ``start`` (:func:`~phasetune.ti.thermodynamic_integration`)
            at the same temperatures: the result then also gives F(U_1).

    Returns:
        :class:`EnergyPathResult`; ``delta_F`` and ``sigma`` (n_T,) eV/atom.
    """
    temps = _check_temperatures(temperatures)
    md_settings = md_settings or MDSettings()
    settings = settings or EnergyPathSettings()
    check_route_steps(settings, md_settings, repeats)
    if anchor is not None and not np.allclose(anchor.temperatures, temps):
        raise PhasetuneError("the anchor TI is at other temperatures than the energy path",
                             "run the absolute TI of the start potential at the same -T")
    with tempfile.TemporaryDirectory() as workdir:
        u0, u1 = pair_form(start, workdir), pair_form(end, workdir)
        if tuple(u0.elements) != tuple(u1.elements):
            raise PhasetuneError(f"{u0.name} and {u1.name} have different elements "
                                 f"({u0.elements} vs {u1.elements})",
                                 "give two potentials for the same element types")
        for pot in (start, end, u0, u1):  # a LinearPotential knows its descriptor range
            if pot.cutoff:
                check_cell_size(atoms, pot.cutoff)
        harmonic = harmonic_reference(atoms, u0, reference)
        spec = {"structure": describe(atoms), "cell": np.round(np.array(atoms.cell), 8).tolist(),
                "start": u0.describe(), "end": u1.describe(), "reference": harmonic.sha256,
                "seed": seed, "md": md_settings.to_dict(), "energy_path": settings.to_dict(),
                "basin": basin}
        store = Checkpoint(checkpoint, spec)
        todo = [(t, k) for t in temps for k in range(repeats) if store.get(METHOD, t, k) is None]
        per_repeat = len(settings.lambdas()) * (settings.equilibration + settings.production)
        from ..progress import progress_bar

        with progress_bar(len(todo) * per_repeat, "TI energy path", progress) as bar:
            for t, k in todo:
                store.put(_repeat(atoms, u0, u1, harmonic, t, k, seed, md_settings, settings,
                                  basin, bar.update))
        end_harmonic = harmonic_reference(atoms, u1) if anchor is not None else None
    n = len(atoms)
    points = [EnergyPathPoint(t, [store.get(METHOD, t, k) for k in range(repeats)], n, settings)
              for t in temps]
    return EnergyPathResult(
        structure=describe(atoms), start=spec["start"], end=spec["end"], points=points,
        settings={"md": md_settings.to_dict(), "energy_path": settings.to_dict(),
                  "repeats": repeats, "seed": seed, "basin": basin},
        anchor=anchor, end_harmonic=end_harmonic, warnings=_warnings(points))


def _repeat(atoms: Atoms, u0: PairPotential, u1: PairPotential, harmonic: HarmonicReference,
            temperature: float, repeat: int, seed: int, md_settings: MDSettings,
            settings: EnergyPathSettings, basin: bool,
            progress: Callable[[int], None]) -> RepeatRecord:
    """One independent repeat: every λ of ``settings`` in one LAMMPS instance."""
    entropy = [seed, 8, int(round(temperature * 1000)), repeat]
    rng = np.random.default_rng(np.random.SeedSequence(entropy))
    where = f"{describe(atoms)} at {temperature:g} K (energy path {u0.name} → {u1.name}, " \
            f"repeat {repeat})"
    cpu = time.process_time()
    with ExitStack() as stack:
        guard = None
        if basin:
            guard = BasinGuard(harmonic, atoms, u0, context=where)
            stack.callback(guard.close)
        md = CoupledMD(atoms, harmonic, u0, temperature, md_settings, mode="energy",
                       label=where, end=u1)
        stack.callback(md.close)
        segments = [_segment(md, harmonic, lam, settings, rng, guard, progress)
                    for lam in settings.lambdas()]
        return RepeatRecord(
            temperature=temperature, repeat=repeat, method=METHOD, F_com_fixed=float("nan"),
            sigma_block=float("nan"), components={"segments": segments}, endpoint=None,
            equilibrated=all(s["equilibrated"] for s in segments),
            diagnostics=guard.diagnostics() if guard else {}, seed=entropy,
            cpu_seconds=time.process_time() - cpu, n_steps=md.step)
