"""The builder of the harmonic reference of one (phase, volume): relax X0 → E0, D0 → Hessian →
stable modes → :class:`~phasetune.model.HarmonicReference` (method.md §4.1).  This is the one place
a reference is built from a potential.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import numpy as np
from ase import Atoms

from ..engine.calculators import ForceEvaluator, descriptor_evaluator
from ..engine.session import Engine
from ..errors import PhasetuneError
from ..model import HarmonicReference
from ..potentials.linear import DescriptorSpec, LinearPotential, PairPotential
from ..structures.crystals import check_cell_size
from .hessian import (
    cache_key,
    finite_difference_hessian,
    load_cached,
    store_cached,
)
from .modes import normal_modes

FORCE_TOL = 1e-4
"""Largest residual force on the relaxed lattice, eV/Å."""


def describe(atoms: Atoms) -> str:
    """'bcc Mo, 54 atoms, 15.9 Å³/atom' for messages."""
    structure = atoms.info.get("structure", atoms.get_chemical_formula())
    element = atoms.get_chemical_symbols()[0]
    volume = atoms.get_volume() / len(atoms)
    return f"{structure} {element}, {len(atoms)} atoms, {volume:.4g} Å³/atom"


def _check_elements(atoms: Atoms, potential: PairPotential | LinearPotential) -> None:
    missing = sorted(set(atoms.get_chemical_symbols()) - set(potential.elements))
    if missing and potential.elements:
        raise PhasetuneError(
            f"potential {potential.name} is for {', '.join(potential.elements)}, but the "
            f"structure contains {', '.join(missing)}",
            "use a potential for this element, or --element to match the potential",
        )


def relax_internal(evaluator: ForceEvaluator, atoms: Atoms, where: str) -> np.ndarray:
    """Relax internal coordinates at fixed cell (LAMMPS conjugate gradients) when forces are not
    already below FORCE_TOL (they vanish by symmetry for bcc, fcc, a15, hcp, …).

    Returns the relaxed positions (N, 3) Å; raises if max|F| ≥ FORCE_TOL afterwards."""
    _, f = evaluator.energy_forces(atoms.positions)
    x = atoms.positions.copy()
    if np.abs(f).max() >= FORCE_TOL:
        engine = evaluator.engine
        engine.commands(["min_style cg", "minimize 0.0 1.0e-8 2000 20000"])
        x = engine.positions()
        _, f = evaluator.energy_forces(x)
    fmax = float(np.abs(f).max())
    if fmax >= FORCE_TOL:
        raise PhasetuneError(
            f"{where}: relaxation left max|F| = {fmax:.3g} eV/Å ≥ {FORCE_TOL} eV/Å",
            "the structure has no nearby minimum at fixed cell; check the structure and volume",
        )
    return x


def build_reference(atoms: Atoms, potential: PairPotential | LinearPotential, *,
                    spec: DescriptorSpec | None = None, beta0: float = 0.0,
                    step: float = 1e-3, use_cache: bool = True, engine: Engine | None = None,
                    progress: Callable[[int], None] | None = None,
                    phase: str | None = None) -> HarmonicReference:
    """Relax, evaluate E0 (and D0), compute the Hessian and its stable modes.

    Args:
        atoms: the crystal (``info``: structure, n_trans).
        potential: reference potential (defines the Hessian and the isosurfaces).
        spec: descriptor spec for D0; None leaves D0 empty.
        beta0: β0 of the evaluated linear potential, eV/atom (stored).
        step: finite-difference step, Å.
        use_cache: reuse/store the Hessian in the on-disk cache.
        engine: LAMMPS engine to reuse.
        progress: called with 1 per displaced coordinate.
        phase: phase name (default ``atoms.info["structure"]`` or the formula).

    Raises:
        UnstableLatticeError: negative or zero modes beyond the three translations.
    """
    where = describe(atoms)
    _check_elements(atoms, potential)
    cutoff = potential.cutoff if potential.cutoff else (spec.cutoff if spec else None)
    if cutoff:
        check_cell_size(atoms, cutoff)
    engine = engine or Engine(label=where)
    with tempfile.TemporaryDirectory() as workdir:
        evaluator = ForceEvaluator(atoms, potential, engine=engine, workdir=workdir)
        x0 = relax_internal(evaluator, atoms, where)
        e0, _ = evaluator.energy_forces(x0)
        key = cache_key(atoms.cell, x0, atoms.numbers, atoms.get_masses(),
                        evaluator.pair.sha256, step)
        hessian = load_cached(key) if use_cache else None
        if hessian is None:
            hessian = finite_difference_hessian(evaluator.forces, x0, step, progress)
            if use_cache:
                store_cached(key, hessian)
        elif progress is not None:
            progress(x0.size)
    modes = normal_modes(hessian.matrix, where)
    relaxed = atoms.copy()
    relaxed.positions = x0
    d0 = descriptor_evaluator(relaxed, spec, engine=engine).descriptors() if spec \
        else np.zeros(0)
    masses = atoms.get_masses()
    if not np.allclose(masses, masses[0]):
        raise PhasetuneError(f"{where}: all atoms must have one mass (single-element crystals)")
    return HarmonicReference(
        phase=phase or str(atoms.info.get("structure", atoms.get_chemical_formula())),
        n_atoms=len(atoms),
        mass=float(masses[0]),
        volume=float(atoms.get_volume() / len(atoms)),
        cell=np.array(atoms.cell),
        positions=x0,
        n_trans=int(atoms.info.get("n_trans", len(atoms))),
        D0=d0,
        E0=float(e0 / len(atoms)),
        omega=modes.omega,
        beta0=beta0,
        n_zero=modes.n_zero,
        hessian_step=step,
        hessian_residual=hessian.residual,
        eigenvectors=modes.vectors,
    )
