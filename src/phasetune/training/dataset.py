"""Training configurations: read from extxyz (ASE) or generated from a reference potential.

Each configuration is an ASE ``Atoms`` carrying its energy (eV, total) and forces (N, 3, eV/Å) in a
``SinglePointCalculator``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from ..engine.calculators import ForceEvaluator
from ..engine.session import Engine
from ..errors import PhasetuneError
from ..model import HarmonicReference
from ..potentials.linear import LinearPotential, PairPotential


def read_training_set(path: str | Path) -> list[Atoms]:
    """All frames of an extxyz (or any ASE-readable) file; each must have energy and forces."""
    from ase.io import read

    try:
        frames = read(path, index=":")
    except FileNotFoundError as exc:
        raise PhasetuneError(f"training set not found: {path}") from exc
    except Exception as exc:
        raise PhasetuneError(f"cannot read training set {path}: {exc}") from exc
    for k, atoms in enumerate(frames):
        try:
            atoms.get_potential_energy()
            atoms.get_forces()
        except Exception as exc:
            raise PhasetuneError(
                f"{path}: frame {k} has no energy and forces",
                "write frames with energy and forces (extxyz with a calculator or arrays)",
            ) from exc
    return frames


def reference_structures(references: list[HarmonicReference], element: str) -> list[Atoms]:
    """The sampled lattices X0 of an archive as ASE Atoms (for generating training frames)."""
    out = []
    for ref in references:
        if np.ptp(ref.positions) == 0:
            raise PhasetuneError(f"phase {ref.phase}: the archive holds no lattice positions",
                                 "give a training set (extxyz) instead")
        out.append(Atoms(element * ref.n_atoms, positions=ref.positions, cell=ref.cell,
                         pbc=True))
    return out


def training_frames(path: str | Path | None, references: list[HarmonicReference],
                    labeller: PairPotential | LinearPotential, element: str,
                    n_per_structure: int) -> list[Atoms]:
    """Frames read from ``path`` (extxyz), or generated around the sampled lattices and
    labelled with ``labeller``."""
    if path is not None:
        return read_training_set(path)
    return generate_training_set(reference_structures(references, element), labeller,
                                 n_per_structure=n_per_structure)


def generate_training_set(structures: list[Atoms], potential: PairPotential | LinearPotential,
                          n_per_structure: int = 20, displacement: float = 0.05,
                          strain: float = 0.01, seed: int = 0) -> list[Atoms]:
    """Random displacements (Gaussian, ``displacement`` Å) and strains (symmetric, entries of
    size ``strain``) of each structure, labelled with the reference potential's energy/forces."""
    rng = np.random.default_rng(seed)
    engine = Engine(label="training set")
    frames: list[Atoms] = []
    for base in structures:
        for _ in range(n_per_structure):
            eps = rng.uniform(-strain, strain, (3, 3))
            eps = 0.5 * (eps + eps.T)
            atoms = base.copy()
            atoms.set_cell(np.asarray(base.cell) @ (np.eye(3) + eps), scale_atoms=True)
            atoms.positions += rng.normal(0.0, displacement, atoms.positions.shape)
            atoms.wrap()
            energy, forces = ForceEvaluator(atoms, potential, engine=engine).energy_forces()
            atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
            frames.append(atoms)
    engine.close()
    return frames
