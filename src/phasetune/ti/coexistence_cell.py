"""The elongated cell of a solid–liquid coexistence run: its size checks, its two halves, and a
starting volume.

The long axis is the third cell vector c (LAMMPS's z axis): the half with fractional coordinate
s_c ≥ ½ is melted, the other half stays crystalline, so the run has two planar interfaces normal
to c.  Each half must be several interaction cutoffs long, so that the middle of each phase is
bulk-like, and the cross-section wider than the cutoff (no atom sees its own image).
Lengths Å, volumes Å³/atom, pressures GPa.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers, reference_states

from ..errors import PhasetuneError, StructureError
from ..potentials.linear import LinearPotential, PairPotential
from ..structures.crystals import check_cell_size, crystal, perpendicular_widths

EAM_HEADER_LINE = {"eam": 2, "eam/alloy": 4, "eam/fs": 4}
"""0-based line of "Nrho drho Nr dr cutoff" in each EAM file format (funcfl, setfl)."""

MELTING_EXPANSION = 0.04
"""Typical relative volume expansion of a metal crystal from 0 K to its melting point."""


def eam_cutoff(path: str | Path, style: str) -> float | None:
    """The cutoff (Å) written in an EAM file's header, or None if it cannot be read."""
    line = EAM_HEADER_LINE.get(style)
    if line is None:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            for _ in range(line):
                handle.readline()
            return float(handle.readline().split()[4])
    except (OSError, IndexError, ValueError):
        return None


def interaction_cutoff(potential: LinearPotential | PairPotential,
                       pair: PairPotential) -> float | None:
    """Largest interaction range of a potential, Å (None if unknown).

    Args:
        potential: the potential as given (a LinearPotential knows its descriptor cutoff).
        pair: its LAMMPS form (an EAM file's header holds its cutoff).
    """
    if isinstance(potential, LinearPotential):
        return float(potential.cutoff)
    if pair.cutoff:
        return float(pair.cutoff)
    style = pair.pair_style[0] if pair.pair_style else ""
    if style in EAM_HEADER_LINE and pair.pair_coeffs and len(pair.pair_coeffs[0]) > 2:
        return eam_cutoff(pair.pair_coeffs[0][2], style)
    return None


def check_two_phase_cell(atoms: Atoms, cutoff: float | None, min_half_cutoffs: float) -> dict:
    """Require a cross-section wider than the cutoff and each half (along c) at least
    ``min_half_cutoffs`` cutoffs long; returns the widths for the report.

    Raises:
        StructureError: the cell is too small, with the supercell to use.
    """
    widths = perpendicular_widths(np.array(atoms.cell))
    half = 0.5 * widths[2]
    out = {"widths": widths.tolist(), "half_length": float(half), "cutoff": cutoff}
    if not cutoff:
        return out
    check_cell_size(atoms, cutoff)
    need = min_half_cutoffs * cutoff
    if half < need:
        reps = atoms.info.get("cells")
        hint = "lengthen the cell along its third axis"
        if reps is not None:
            nz = int(np.ceil(2 * need / (widths[2] / reps[2])))
            hint = f"use at least --cells {reps[0]} {reps[1]} {nz}"
        raise StructureError(
            f"cell too short for two phases: each half is {half:.2f} Å long, but it should be at "
            f"least {min_half_cutoffs:g} cutoffs ({need:.2f} Å) so that both phases are bulk-like "
            "away from the interfaces", hint)
    if widths[2] < max(widths[0], widths[1]):
        raise StructureError(f"the third cell vector ({widths[2]:.2f} Å) is not the long axis "
                             f"(widths {np.round(widths, 2).tolist()} Å)",
                             "give the largest repetition last, e.g. --cells 4 4 16")
    return out


def upper_half(atoms: Atoms) -> np.ndarray:
    """(N,) bool: atoms with fractional coordinate s_c in [½, 1) (the half to melt)."""
    frac = atoms.get_scaled_positions(wrap=True)[:, 2]
    return (frac >= 0.5 - 1e-9) & (frac < 1.0 - 1e-9)


def reference_volume(structure: str, element: str) -> float | None:
    """Volume per atom (Å³) from ASE's tabulated lattice constant of ``element``, if that element
    is tabulated in ``structure``; else None."""
    state = reference_states[atomic_numbers[element]] if element in atomic_numbers else None
    if not state or state.get("symmetry") != structure or "a" not in state:
        return None
    return float(crystal(structure, element, lattice_constant=state["a"]).info["volume"])


def starting_volume(structure: str, element: str, potential: LinearPotential | PairPotential,
                    pressure_gpa: float, temperature: float) -> float:
    """A starting volume per atom (Å³) for the constant-pressure equilibration at (P, T).

    The quasi-harmonic V*(P, T) (static equation of state plus the Slater thermal pressure);
    near melting that thermal pressure can exceed what the static fit holds, and then the static
    V0(P) expanded by :data:`MELTING_EXPANSION` is used.  Only a start: the NPT run sets the
    volume."""
    from ..harmonic.equilibrium import equilibrium_volumes

    guess = reference_volume(structure, element)
    if guess is None:
        raise PhasetuneError(f"no tabulated lattice constant of {structure} {element} to start "
                             "from", "give the volume per atom (--volume, Å³)")
    atoms = crystal(structure, element, volume=guess, cells=2)
    try:
        eq = equilibrium_volumes(potential, atoms, [pressure_gpa], [temperature],
                                 thermal="slater")
        return float(eq.volumes[0, 0])
    except PhasetuneError:
        eq = equilibrium_volumes(potential, atoms, [pressure_gpa], thermal="none")
        return float(eq.v0[0]) * (1.0 + MELTING_EXPANSION)
