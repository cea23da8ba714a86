"""Thermodynamic integration API: :func:`thermodynamic_integration` and :func:`free_energy_curve`.

Both compute the classical NVT Helmholtz free energy per atom of a crystal at fixed N, cell and
volume for any LAMMPS potential (SNAP, SNAP+ZBL, EAM, …), or for an exactly harmonic model, with
the bookkeeping of :mod:`phasetune.ti.result`.  Repeats are independent (seeds derive from
(seed, method, T, repeat)) and resumable through a checkpoint file.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from ase import Atoms

from ..conventions import Conventions
from ..engine.calculators import ForceEvaluator
from ..errors import PhasetuneError
from ..harmonic.reference import build_reference, describe
from ..model import HarmonicReference
from ..potentials.linear import DescriptorSpec, LinearPotential, PairPotential, pair_form
from ..structures.crystals import check_cell_size
from .basin import LINDEMANN, BasinGuard
from .checkpoint import Checkpoint
from .frenkel_ladd import FrenkelLaddSettings, frenkel_ladd_repeat
from .lambda_path import LambdaSettings, lambda_repeat
from .md import CoupledMD, MDSettings, Target
from .result import (
    CurveResult,
    RepeatRecord,
    TemperaturePoint,
    TIResult,
    equilibration_warnings,
)
from .temperature import gibbs_helmholtz, sample_energy

METHODS = ("lambda", "frenkel-ladd")
_METHOD_ID = {"lambda": 1, "frenkel-ladd": 2, "energy": 3}

def round_up(n: int, stride: int) -> int:
    """n steps rounded up to a whole number of strides (at least one stride)."""
    return max(stride, -(-int(n) // stride) * stride)


def target_energy(atoms: Atoms, target: Target, positions: np.ndarray) -> float:
    """U_θ(positions)/N, eV/atom (LAMMPS energy, β0 included for SNAP)."""
    if isinstance(target, HarmonicReference):
        return target.energy_forces(positions)[0] / len(atoms)
    system = atoms.copy()
    system.positions = positions
    if target.elements and set(system.get_chemical_symbols()) <= set(target.elements):
        system.info = dict(system.info, types=list(target.elements))
    evaluator = ForceEvaluator(system, target)
    try:
        return evaluator.energy_forces(positions)[0] / len(atoms)
    finally:
        evaluator.engine.close()


def harmonic_reference(atoms: Atoms, target: Target,
                       reference: HarmonicReference | None = None, step: float = 1e-3,
                       use_cache: bool = True) -> HarmonicReference:
    """The harmonic reference U_H of a TI run, with E0 = U_θ(X0)/N of the target.

    Args:
        reference: the harmonic reference to integrate from (e.g. a D-DOS campaign's, with its
            eigenvectors), or None to build the target's own Hessian at its relaxed lattice.
    """
    if reference is None:
        if isinstance(target, HarmonicReference):
            reference = target
        else:
            reference = build_reference(atoms, target, step=step, use_cache=use_cache)
    reference.check_modes()
    if reference.n_atoms != len(atoms) or not np.allclose(reference.cell,
                                                          np.array(atoms.cell)):
        raise PhasetuneError("the harmonic reference is for another cell or atom count",
                             "build the reference for this structure and volume")
    return reference.with_static_energy(target_energy(atoms, target, reference.positions))


@dataclass
class _Run:
    """Everything shared by the repeats of one call."""

    atoms: Atoms
    target: Target
    harmonic: HarmonicReference
    md: MDSettings
    lam: LambdaSettings
    fl: FrenkelLaddSettings
    descriptors: DescriptorSpec | None
    basin: bool
    seed: int
    checkpoint: Checkpoint
    progress: bool | str

    def steps(self, method: str) -> int:
        if method == "lambda":
            return self.lam.steps_per_repeat()
        if method == "frenkel-ladd":
            return self.fl.steps_per_repeat()
        return self.lam.equilibration + self.lam.production

    def run(self, method: str, temperatures: Sequence[float], repeats: int) -> None:
        """Run every (T, repeat) not yet in the checkpoint, storing each as it finishes."""
        todo = [(float(t), k) for t in temperatures for k in range(repeats)
                if self.checkpoint.get(method, t, k) is None]
        from ..progress import progress_bar

        with progress_bar(len(todo) * self.steps(method), f"TI {method}", self.progress) as bar:
            for t, k in todo:
                self.checkpoint.put(self._repeat(method, t, k, bar.update))

    def _repeat(self, method: str, temperature: float, repeat: int,
                progress: Callable[[int], None]) -> RepeatRecord:
        """One independent repeat (seeded from (seed, method, T, repeat)), guard and MD closed
        afterwards whatever happens."""
        entropy = [self.seed, _METHOD_ID[method], int(round(temperature * 1000)), repeat]
        rng = np.random.default_rng(np.random.SeedSequence(entropy))
        where = f"{describe(self.atoms)} at {temperature:g} K ({method}, repeat {repeat})"
        guard_target = self.target if isinstance(self.target, PairPotential) else None
        cpu = time.process_time()
        with ExitStack() as stack:
            guard = None
            if self.basin:
                guard = BasinGuard(self.harmonic, self.atoms, guard_target, context=where)
                stack.callback(guard.close)
            mode = "plain" if method == "frenkel-ladd" else "lambda"
            descriptors = self.descriptors if method != "frenkel-ladd" else None
            md = CoupledMD(self.atoms, self.harmonic, self.target, temperature, self.md,
                           mode=mode, descriptors=descriptors, label=where)
            stack.callback(md.close)
            if method == "lambda":
                out = lambda_repeat(md, self.harmonic, self.lam, rng, guard, progress)
            elif method == "frenkel-ladd":
                out = frenkel_ladd_repeat(md, self.harmonic, self.fl, rng, guard, progress)
            else:
                end = sample_energy(md, self.harmonic, self.lam.equilibration,
                                    self.lam.production, rng, guard, progress)
                out = {"F_com_fixed": float("nan"), "sigma_block": float("nan"),
                       "components": {}, "endpoint": end,
                       "equilibrated": end["series"]["equilibrated"]}
            return RepeatRecord(temperature=temperature, repeat=repeat, method=method, **out,
                                diagnostics=guard.diagnostics() if guard else {}, seed=entropy,
                                cpu_seconds=time.process_time() - cpu, n_steps=md.step)


def _prepare(atoms: Atoms, potential: LinearPotential | PairPotential | HarmonicReference,
             workdir: str, reference: HarmonicReference | None, steps: int | None, seed: int,
             checkpoint: str | Path | None, progress: bool | str,
             md_settings: MDSettings | None,
             lambda_settings: LambdaSettings | None, fl_settings: FrenkelLaddSettings | None,
             basin: bool) -> _Run:
    """Resolve the target, the harmonic reference, the settings and the checkpoint."""
    if isinstance(potential, HarmonicReference):
        target, descriptors = potential, None
    else:
        target = pair_form(potential, workdir)
        descriptors = potential.spec if isinstance(potential, LinearPotential) else None
    if isinstance(target, PairPotential) and target.cutoff:
        check_cell_size(atoms, target.cutoff)
    md = md_settings or MDSettings()
    lam = lambda_settings or LambdaSettings()
    fl = fl_settings or FrenkelLaddSettings()
    if steps is not None:
        if steps <= 0:
            raise PhasetuneError(f"--steps must be positive, got {steps}")
        s = round_up(steps, md.stride)
        lam = replace(lam, production=s, equilibration=round_up(s // 4, md.stride))
        fl = replace(fl, switching=s, equilibration=round_up(s // 4, md.stride))
    fl = replace(fl, equilibration=round_up(fl.equilibration, md.stride),
                 switching=round_up(fl.switching, md.stride))
    harmonic = harmonic_reference(atoms, target, reference)
    describe_target = target.describe() if isinstance(target, PairPotential) else \
        {"name": target.name, "kind": "harmonic", "sha256": target.sha256}
    spec = {"structure": describe(atoms), "cell": np.round(np.array(atoms.cell), 8).tolist(),
            "potential": describe_target, "reference": harmonic.sha256, "seed": seed,
            "md": md.to_dict(), "lambda": lam.to_dict(), "frenkel_ladd": fl.to_dict(),
            "basin": basin, "descriptors": descriptors is not None}
    return _Run(atoms, target, harmonic, md, lam, fl, descriptors, basin, seed,
                Checkpoint(checkpoint, spec), progress)


def _check_temperatures(temperatures) -> list[float]:
    temps = [float(t) for t in np.atleast_1d(temperatures)]
    if not temps or any(t <= 0 for t in temps):
        raise PhasetuneError("temperatures must be positive (K)")
    return temps


def _points(run: _Run, method: str, temps: list[float], repeats: int,
            conventions: Conventions) -> list[TemperaturePoint]:
    return [TemperaturePoint(t, method, [run.checkpoint.get(method, t, k) for k in range(repeats)],
                             conventions, run.harmonic) for t in temps]


def _gibbs_helmholtz_check(points: list[TemperaturePoint],
                           harmonic: HarmonicReference) -> list[dict]:
    """F^{(3−3/N)} at each T from the lowest-T TI by Gibbs–Helmholtz, against its own TI."""
    pts = sorted((p for p in points if p.endpoint), key=lambda p: p.temperature)
    if len(pts) < 2 or len({p.temperature for p in pts}) < len(pts):
        return []
    t = np.array([p.temperature for p in pts])
    u = np.array([p.endpoint["U_anharmonic"] for p in pts])
    u_err = np.array([p.endpoint["U_anharmonic_error"] for p in pts])
    f, sigma = gibbs_helmholtz(t, u, u_err, 0, pts[0].F_com_fixed, pts[0].sigma, harmonic)
    return [{"T": p.temperature, "F_TI": p.F_com_fixed, "F_GH": float(fi),
             "difference": float(fi - p.F_com_fixed), "sigma_TI": p.sigma,
             "sigma_GH": float(si), "variant": "F_3N-3"}
            for p, fi, si in zip(pts, f, sigma, strict=True)][1:]


def _warnings(points: list[TemperaturePoint]) -> list[str]:
    out = []
    for p in points:
        out += equilibration_warnings(p)
        lindemann = max(r.diagnostics.get("lindemann_ratio", 0.0) for r in p.repeats)
        if lindemann > LINDEMANN:
            out.append(f"T = {p.temperature:g} K: rms displacement / d_nn reached "
                       f"{lindemann:.2f} (> {LINDEMANN}, Lindemann): the crystal is superheated "
                       "and may melt in longer runs or larger cells")
        if p.method != "energy" and len(p.repeats) < 2 and not np.isfinite(p.sigma):
            out.append(f"T = {p.temperature:g} K: one repeat gives no error bar; use --repeats ≥ 2")
    return out


def thermodynamic_integration(
    atoms: Atoms, potential: LinearPotential | PairPotential | HarmonicReference,
    temperatures: Sequence[float] | float, method: str = "lambda", repeats: int = 3,
    conventions: Conventions | None = None, steps: int | None = None, seed: int = 0,
    checkpoint: str | Path | None = None, progress: bool | str = True, *,
    reference: HarmonicReference | None = None, md_settings: MDSettings | None = None,
    lambda_settings: LambdaSettings | None = None,
    fl_settings: FrenkelLaddSettings | None = None, basin: bool = True,
) -> TIResult:
    """Classical NVT free energy per atom of a crystal by thermodynamic integration.

    Args:
        atoms: the crystal at its volume (``info['n_trans']`` = number of primitive cells).
        potential: the target potential (a LAMMPS potential, or an exactly harmonic model).
        temperatures: K, one or more.
        method: ``"lambda"`` (route A, from the harmonic reference) or ``"frenkel-ladd"``
            (route B, Einstein crystal by nonequilibrium switching).
        repeats: independent repeats per temperature (the error bar is their standard error).
        conventions: which variant ``F`` reports (all three are always in the result).
        steps: production steps per λ node (lambda) or per switch (frenkel-ladd); equilibration
            is a quarter of it.  None: the defaults of the settings.
        seed: base seed; repeat seeds derive from (seed, method, T, repeat).
        checkpoint: JSON file of finished repeats (resumable), or None.
        progress: True: a progress bar on stderr; ``"lines"``: a one-line report on stderr
            every 10 % or 30 s (for logs); False: nothing.
        reference: the harmonic reference (default: the target's own Hessian at its relaxed
            lattice; pass the D-DOS campaign's HarmonicReference to use the same Hessian).
        md_settings, lambda_settings, fl_settings: detailed settings.
        basin: stop with :class:`~phasetune.ti.basin.CrystalLeftBasinError` if the crystal melts
            or transforms.

    Returns:
        :class:`TIResult`; ``result.F`` (n_T,) eV/atom and ``result.sigma``.
    """
    if method not in METHODS:
        raise PhasetuneError(f"unknown TI method {method!r}", f"choose one of {', '.join(METHODS)}")
    if repeats < 1:
        raise PhasetuneError("repeats must be at least 1")
    temps = _check_temperatures(temperatures)
    conventions = conventions or Conventions()
    with tempfile.TemporaryDirectory() as workdir:
        run = _prepare(atoms, potential, workdir, reference, steps, seed, checkpoint, progress,
                       md_settings, lambda_settings, fl_settings, basin)
        run.run(method, temps, repeats)
    points = _points(run, method, temps, repeats, conventions)
    settings = {"md": run.md.to_dict(), "repeats": repeats, "seed": seed, "basin": basin,
                "lambda" if method == "lambda" else "frenkel_ladd":
                    run.lam.to_dict() if method == "lambda" else run.fl.to_dict()}
    return TIResult(structure=describe(atoms), potential=run.checkpoint.spec["potential"],
                    method=method, conventions=conventions, harmonic=run.harmonic, points=points,
                    settings=settings, gibbs_helmholtz=_gibbs_helmholtz_check(points, run.harmonic),
                    warnings=_warnings(points))


def free_energy_curve(
    atoms: Atoms, potential: LinearPotential | PairPotential | HarmonicReference,
    temperatures: Sequence[float], anchor: float | None = None, method: str = "lambda",
    repeats: int = 3, conventions: Conventions | None = None, steps: int | None = None,
    seed: int = 0, checkpoint: str | Path | None = None, progress: bool | str = True,
    **kwargs,
) -> CurveResult:
    """F(T) over a temperature grid from one TI anchor plus ⟨U⟩(T) by NVT MD (Gibbs–Helmholtz).

    TI (``method``) runs at ``anchor`` (default: the lowest temperature); λ = 1 MD measures the
    anharmonic energy at every temperature, integrated as in :mod:`phasetune.ti.temperature`.
    Use a grid dense enough for the trapezoid rule (ΔT ≈ 100–200 K).  Other keyword arguments are
    those of :func:`thermodynamic_integration`.
    """
    temps = sorted(set(_check_temperatures(temperatures)))
    anchor = float(min(temps) if anchor is None else anchor)
    if anchor not in temps:
        temps = sorted({*temps, anchor})
    conventions = conventions or Conventions()
    with tempfile.TemporaryDirectory() as workdir:
        run = _prepare(atoms, potential, workdir, kwargs.pop("reference", None), steps,
                       seed, checkpoint, progress, kwargs.pop("md_settings", None),
                       kwargs.pop("lambda_settings", None), kwargs.pop("fl_settings", None),
                       kwargs.pop("basin", True))
        if kwargs:
            raise TypeError(f"unexpected arguments {sorted(kwargs)}")
        run.run(method, [anchor], repeats)
        run.run("energy", temps, repeats)
    anchor_point = _points(run, method, [anchor], repeats, conventions)[0]
    energy = _points(run, "energy", temps, repeats, conventions)
    u = np.array([p.endpoint["U_anharmonic"] for p in energy])
    u_err = np.array([p.endpoint["U_anharmonic_error"] for p in energy])
    f, sigma = gibbs_helmholtz(np.array(temps), u, u_err, temps.index(anchor),
                               anchor_point.F_com_fixed, anchor_point.sigma, run.harmonic)
    return CurveResult(structure=describe(atoms), potential=run.checkpoint.spec["potential"],
                       method=method, conventions=conventions, harmonic=run.harmonic,
                       anchor=anchor_point, temperatures=np.array(temps), F_com_fixed=f,
                       sigma=sigma, energy=energy, warnings=_warnings([anchor_point, *energy]))
