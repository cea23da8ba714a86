"""Crystal structures as ASE ``Atoms``: prototypes by name, at a volume per atom, as supercells.

Prototypes (conventional cubic/hexagonal cells): ``bcc`` (2 atoms), ``fcc`` (4), ``hcp`` (2, ideal
c/a unless given), ``a15`` (8, Cr3Si type), ``diamond`` (8), ``sc`` (1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from ..errors import StructureError
from ..model import HarmonicReference

# Fractional positions of the conventional cells.
_CUBIC_BASIS: dict[str, np.ndarray] = {
    "sc": np.array([[0, 0, 0]]),
    "bcc": np.array([[0, 0, 0], [0.5, 0.5, 0.5]]),
    "fcc": np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]),
    "diamond": np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0],
                         [0.25, 0.25, 0.25], [0.25, 0.75, 0.75], [0.75, 0.25, 0.75],
                         [0.75, 0.75, 0.25]]),
    "a15": np.array([[0, 0, 0], [0.5, 0.5, 0.5],
                     [0.25, 0.5, 0], [0.75, 0.5, 0], [0, 0.25, 0.5], [0, 0.75, 0.5],
                     [0.5, 0, 0.25], [0.5, 0, 0.75]]),
}
_HCP_BASIS = np.array([[1 / 3, 2 / 3, 0.25], [2 / 3, 1 / 3, 0.75]])

STRUCTURES = ("bcc", "fcc", "hcp", "a15", "diamond", "sc")

# Primitive cells per conventional cell: N_trans = N / atoms-per-primitive-cell (method.md §3).
ATOMS_PER_PRIMITIVE = {"bcc": 1, "fcc": 1, "sc": 1, "hcp": 2, "a15": 8, "diamond": 2}


def element_mass(element: str) -> float:
    """Standard atomic mass of ``element`` in amu (ASE data)."""
    if element not in atomic_numbers:
        raise StructureError(f"unknown element {element!r}", "use a chemical symbol such as Mo")
    return float(atomic_masses[atomic_numbers[element]])


def _as_cells(cells: int | tuple[int, int, int] | list[int]) -> tuple[int, int, int]:
    reps = (cells,) * 3 if np.isscalar(cells) else tuple(cells)
    if len(reps) != 3 or any(int(r) != r or r < 1 for r in reps):
        raise StructureError(f"supercell {cells!r} is invalid",
                             "give a positive integer or three positive integers")
    return tuple(int(r) for r in reps)  # type: ignore[return-value]


def crystal(structure: str, element: str, *, volume: float | None = None,
            lattice_constant: float | None = None, cells: int | tuple[int, int, int] = 1,
            covera: float | None = None, mass: float | None = None) -> Atoms:
    """Build a crystal supercell.

    Args:
        structure: one of :data:`STRUCTURES`.
        element: chemical symbol.
        volume: volume per atom, Å³ (give this or ``lattice_constant``).
        lattice_constant: conventional lattice constant a, Å.
        cells: supercell repetitions of the conventional cell.
        covera: c/a for hcp (default ideal √(8/3)).
        mass: atomic mass, amu (default: ASE's standard mass).

    Returns:
        ASE ``Atoms`` with periodic boundaries; ``info`` holds ``structure``, ``volume``
        (Å³/atom) and ``n_trans`` (number of primitive cells).
    """
    structure = structure.lower()
    if structure not in STRUCTURES:
        raise StructureError(f"unknown structure {structure!r}",
                             f"choose one of {', '.join(STRUCTURES)} or give a structure file")
    if (volume is None) == (lattice_constant is None):
        raise StructureError("give exactly one of volume (Å³/atom) and lattice constant (Å)")
    for label, value in (("volume", volume), ("lattice constant", lattice_constant)):
        if value is not None and not value > 0:
            raise StructureError(f"{label} must be positive, got {value}")
    reps = _as_cells(cells)
    element_mass(element)  # validates the symbol
    if structure == "hcp":
        ca = covera or float(np.sqrt(8.0 / 3.0))
        basis = _HCP_BASIS
        shape = np.array([[1.0, 0, 0], [-0.5, np.sqrt(3) / 2, 0], [0, 0, ca]])
    else:
        basis = _CUBIC_BASIS[structure]
        shape = np.eye(3)
    unit_volume = abs(np.linalg.det(shape))
    if lattice_constant is None:
        lattice_constant = (volume * len(basis) / unit_volume) ** (1.0 / 3.0)
    cell = shape * lattice_constant
    unit = Atoms(element * len(basis), scaled_positions=basis, cell=cell, pbc=True)
    atoms = unit.repeat(reps)
    atoms.set_masses(np.full(len(atoms), mass if mass is not None else element_mass(element)))
    atoms.info.update(
        structure=structure,
        volume=atoms.get_volume() / len(atoms),
        n_trans=len(atoms) // ATOMS_PER_PRIMITIVE[structure],
        cells=reps,
    )
    return atoms


def read_structure(path: str | Path, mass: float | None = None) -> Atoms:
    """Read any structure file ASE understands; ``info['n_trans']`` defaults to N."""
    from ase.io import read

    try:
        atoms = read(path)
    except FileNotFoundError as exc:
        raise StructureError(f"structure file not found: {path}") from exc
    except Exception as exc:  # ASE raises many types for unreadable files
        raise StructureError(f"cannot read structure file {path}: {exc}") from exc
    if not all(atoms.pbc):
        raise StructureError(f"{path}: phasetune needs a periodic crystal (pbc on all axes)")
    if mass is not None:
        atoms.set_masses(np.full(len(atoms), mass))
    atoms.info.setdefault("structure", Path(path).stem)
    atoms.info.setdefault("volume", atoms.get_volume() / len(atoms))
    atoms.info.setdefault("n_trans", len(atoms))
    return atoms


def reference_atoms(reference: HarmonicReference, element: str) -> Atoms:
    """The crystal of a harmonic reference (cell, relaxed X0, mass, N_trans) as ASE Atoms, e.g. to
    run TI on exactly a campaign's cell and Hessian."""
    atoms = Atoms(element * reference.n_atoms, positions=reference.positions,
                  cell=reference.cell, pbc=True)
    atoms.set_masses(np.full(reference.n_atoms, reference.mass))
    atoms.info.update(structure=reference.phase, n_trans=reference.n_trans,
                      volume=reference.volume)
    return atoms


def pair_distances(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """(N, N) minimum-image distances of a periodic cell, Å, with ∞ on the diagonal."""
    from ase.geometry import get_distances

    _, dist = get_distances(positions, cell=cell, pbc=True)
    np.fill_diagonal(dist, np.inf)
    return dist


def nearest_neighbour_distance(positions: np.ndarray, cell: np.ndarray) -> float:
    """Shortest interatomic distance over periodic images, Å."""
    return float(pair_distances(positions, cell).min())


def perpendicular_widths(cell: np.ndarray) -> np.ndarray:
    """(3,) distances between opposite faces of the cell, Å."""
    cell = np.asarray(cell, dtype=float)
    volume = abs(np.linalg.det(cell))
    return np.array([volume / np.linalg.norm(np.cross(cell[(i + 1) % 3], cell[(i + 2) % 3]))
                     for i in range(3)])


def minimum_cells(atoms: Atoms, cutoff: float) -> tuple[int, int, int] | None:
    """The smallest supercell repetitions (n1, n2, n3), at least the current ones, whose
    perpendicular widths all exceed ``cutoff`` (Å); None when ``atoms`` is not a prototype
    built by :func:`crystal` (no ``info['cells']``)."""
    reps = atoms.info.get("cells")
    if atoms.info.get("structure") not in STRUCTURES or reps is None:
        return None
    reps = np.array(reps)
    unit_w = perpendicular_widths(atoms.cell) / reps
    need = np.maximum(reps, np.floor(cutoff / unit_w) + 1).astype(int)
    return tuple(int(n) for n in need)  # type: ignore[return-value]


def check_cell_size(atoms: Atoms, cutoff: float) -> None:
    """Require every perpendicular width > cutoff, so no atom lies within the cutoff of its own
    periodic image (a displaced atom would otherwise drag its own neighbours along, corrupting
    Hessians and sampled densities).  The error gives the minimum supercell."""
    widths = perpendicular_widths(atoms.cell)
    if np.all(widths > cutoff):
        return
    need = minimum_cells(atoms, cutoff)
    hint = f"use at least --cells {' '.join(map(str, need))}" if need else \
        "use a larger supercell"
    raise StructureError(
        f"cell too small for the cutoff: widths {np.round(widths, 3).tolist()} Å, but the "
        f"potential's cutoff is {cutoff:.3f} Å (an atom would see its own image)", hint)


def build_structure(potential, structure: str | None,
                    structure_file: str | None, element: str | None, volume: float | None,
                    lattice_constant: float | None, cells: tuple[int, ...] | None,
                    mass: float | None) -> Atoms:
    """The crystal that structure options describe (a prototype with volume or lattice constant
    and cells, or a structure file); ``potential`` (anything with ``elements``) supplies the element
    when it has only one."""
    if structure_file:
        return read_structure(structure_file, mass=mass)
    if structure is None:
        raise StructureError("give --structure (a prototype) or --structure-file")
    if element is None:
        if len(potential.elements) != 1:
            raise StructureError("give --element: the potential has several elements")
        element = potential.elements[0]
    if cells and len(cells) not in (1, 3):
        raise StructureError(f"--cells takes one or three integers, got {len(cells)}")
    reps = (cells[0],) * 3 if len(cells or ()) == 1 else (tuple(cells) or (1, 1, 1))
    return crystal(structure, element, volume=volume, lattice_constant=lattice_constant,
                   cells=reps, mass=mass)
