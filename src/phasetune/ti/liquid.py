"""Liquid TI API: :func:`liquid_free_energy`, the classical NVT Helmholtz free energy per atom
of a liquid at fixed (N, V, T) for any LAMMPS potential (route in
:mod:`~phasetune.ti.liquid_path`, bookkeeping in :mod:`~phasetune.ti.liquid_result`).

Repeats are independent (seeds from (seed, "liquid", T, repeat)) and resumable through the
same JSON checkpoint as the crystal routes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from ase import Atoms

from ..errors import PhasetuneError
from ..potentials.linear import LinearPotential, PairPotential, pair_form
from ..structures.crystals import check_cell_size
from .checkpoint import Checkpoint
from .liquid_md import LiquidMDSettings
from .liquid_path import LiquidSettings, liquid_repeat
from .liquid_result import LiquidPoint, LiquidResult
from .result import RepeatRecord, equilibration_warnings
from .uhlenbeck_ford import UFSettings

METHOD = "liquid"
METHOD_ID = 8
"""Seed-sequence id of the liquid route (crystal routes use 1–7)."""


def describe_liquid(atoms: Atoms) -> str:
    """'liquid Mo, 128 atoms, 18.5 Å³/atom (melted from bcc)' for messages."""
    element = atoms.get_chemical_symbols()[0]
    origin = atoms.info.get("lattice") or atoms.info.get("structure")
    v = atoms.get_volume() / len(atoms)
    return f"liquid {element}, {len(atoms)} atoms, {v:.4g} Å³/atom" + \
        (f" (melted from {origin})" if origin and origin != "liquid" else "")


def settings_for_steps(settings: LiquidSettings, steps: int | None) -> LiquidSettings:
    """``steps`` production steps per switch node and at the endpoint, five times as many per
    UF node (its steps are cheap and its integrand noisy), a quarter of it as equilibration per
    node (None: ``settings`` unchanged)."""
    if steps is None:
        return settings
    if steps <= 0:
        raise PhasetuneError(f"--steps must be positive, got {steps}")
    return replace(settings, production=steps, endpoint_production=steps,
                   uf_production=5 * steps, equilibration=steps // 4,
                   uf_equilibration=steps // 4)


def _check(atoms: Atoms, temperatures) -> list[float]:  # noqa: ANN001
    if len(set(atoms.get_chemical_symbols())) != 1:
        raise PhasetuneError("liquid TI handles one element",
                             "give a single-element structure")
    if len(set(np.round(atoms.get_masses(), 10))) != 1:
        raise PhasetuneError("liquid TI needs one atomic mass for all atoms")
    temps = [float(t) for t in np.atleast_1d(temperatures)]
    if not temps or any(not t > 0 for t in temps):
        raise PhasetuneError("temperatures must be positive (K)")
    return temps


def liquid_free_energy(
    atoms: Atoms, potential: LinearPotential | PairPotential,
    temperatures: Sequence[float] | float, repeats: int = 2, steps: int | None = None,
    seed: int = 0, checkpoint: str | Path | None = None, progress: bool | str = True, *,
    uf: UFSettings | None = None, lambda_settings: LiquidSettings | None = None,
    md_settings: LiquidMDSettings | None = None,
) -> LiquidResult:
    """Classical NVT Helmholtz free energy per atom of a liquid (module doc, docs/ti.md).

    Args:
        atoms: a crystal of the wanted N and cell (volume per atom V/N): it is melted at
            ``melt_factor``·T, then equilibrated at T.  One element.
        potential: the LAMMPS potential (SNAP, SNAP + ZBL, EAM, …).
        temperatures: K, one or more (each melted afresh).
        repeats: independent repeats per temperature (≥ 2 for an error bar from their spread).
        steps: production steps per switch node and at λ = 1 (5× per UF node; a quarter of it
            equilibrates each node); None: the ``lambda_settings`` values.
        seed: base seed; repeat seeds derive from (seed, liquid, T, repeat).
        checkpoint: JSON file of finished repeats (resumable), or None.
        progress: True (bar), ``"lines"`` (one line every 10 % or 30 s) or False.
        uf: the Uhlenbeck–Ford reference (default p = 50, σ = 2 Å, cutoff 5σ).
        lambda_settings: nodes, node maps and steps of both integrals, melting.
        md_settings: timestep (≤ 2 fs), Langevin damping, stride, chunk.

    Returns:
        :class:`~phasetune.ti.liquid_result.LiquidResult`: ``.F`` (F^(3N−3), eV/atom),
        ``.F_phys``, ``.sigma``, ``.to_dict()``.

    Raises:
        LiquidCrystallisedError: the liquid crystallised or stopped diffusing (no number).
    """
    temps = _check(atoms, temperatures)
    if repeats < 1:
        raise PhasetuneError("repeats must be at least 1")
    uf = uf or UFSettings()
    md = md_settings or LiquidMDSettings()
    path = settings_for_steps(lambda_settings or LiquidSettings(), steps).rounded(md.stride)
    name = describe_liquid(atoms)
    with tempfile.TemporaryDirectory() as workdir:
        target = pair_form(potential, workdir)
        if target.cutoff:
            check_cell_size(atoms, target.cutoff)
        spec = {"structure": name, "cell": np.round(np.array(atoms.cell), 8).tolist(),
                "potential": target.describe(), "uf": uf.to_dict(), "seed": seed,
                "md": md.to_dict(), "liquid": path.to_dict()}
        store = Checkpoint(checkpoint, spec)
        todo = [(t, k) for t in temps for k in range(repeats)
                if store.get(METHOD, t, k) is None]
        from ..progress import progress_bar

        total = len(todo) * (path.target_steps() + path.uf_steps())
        with progress_bar(total, "liquid TI", progress) as bar:
            for t, k in todo:
                entropy = [seed, METHOD_ID, int(round(t * 1000)), k]
                rng = np.random.default_rng(np.random.SeedSequence(entropy))
                cpu = time.process_time()
                out = liquid_repeat(atoms, target, uf, t, md, path, rng,
                                    f"{name} at {t:g} K (repeat {k})", bar.update)
                store.put(RepeatRecord(
                    temperature=t, repeat=k, method=METHOD, F_com_fixed=out["F_com_fixed"],
                    sigma_block=out["sigma_block"], components=out["components"],
                    endpoint=out["endpoint"], equilibrated=out["equilibrated"],
                    diagnostics=out["diagnostics"], seed=entropy,
                    cpu_seconds=time.process_time() - cpu, n_steps=out["n_steps"]))
    points = [LiquidPoint(t, [store.get(METHOD, t, k) for k in range(repeats)]) for t in temps]
    return LiquidResult(structure=name, potential=spec["potential"], n_atoms=len(atoms),
                        mass=float(atoms.get_masses()[0]), volume_box=float(atoms.get_volume()),
                        uf=uf.to_dict(), points=points,
                        settings={"md": md.to_dict(), "liquid": path.to_dict(),
                                  "repeats": repeats, "seed": seed},
                        warnings=_warnings(points))


def _warnings(points: list[LiquidPoint]) -> list[str]:
    out = []
    for p in points:
        out += equilibration_warnings(p)
        if len(p.repeats) < 2:
            out.append(f"T = {p.temperature:g} K: one repeat gives no spread; the error bar is "
                       "from block averages only (use --repeats ≥ 2)")
    return out
