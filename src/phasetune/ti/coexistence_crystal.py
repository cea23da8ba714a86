"""The crystal stage of a coexistence run: the mean cell of the crystal at (P, T_guess).

Langevin NPH MD of the elongated crystal (:class:`~phasetune.ti.barostat.BarostatMD`, ``aniso``
coupling for the orthogonal cell, centre of mass fixed) gives the mean cell whose cross-section
the two-phase runs keep.  The solid fraction (:mod:`~phasetune.ti.solidity`) is taken after
every chunk: if the crystal melts at T_guess before any interface exists, T_guess is well above
the melting point and the stage stops with a one-line error.  (The site-displacement basin guard
of the TI runs is not used: near T_m a single atom hopping to another site is no melting.)
Units: K, GPa at the interface (eV/Å³ inside), Å, Å³/atom.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from ase import Atoms

from ..constants import GPA_TO_EV_PER_A3
from ..harmonic.reference import describe
from ..potentials.linear import PairPotential
from ..structures.crystals import nearest_neighbour_distance
from .barostat import (
    BAR_PER_EV_A3,
    CELL_VARS,
    PRESSURE,
    VOLUME,
    BarostatMD,
    NPTSettings,
    cell_from_lammps,
)
from .coexistence_md import CoexistenceError
from .md import lammps_seed
from .npt import site_reference
from .solidity import SolidityCriterion, solid_fraction
from .stats import summarize_series


def crystal_cell(atoms: Atoms, target: PairPotential, temperature: float, pressure: float, *,
                 steps: int, settings: NPTSettings, criterion: SolidityCriterion,
                 min_fraction: float, seed: int,
                 progress: Callable[[int], None] | None = None) -> dict:
    """Mean cell and volume of the crystal at (P, T) by constant-pressure MD.

    Args:
        atoms: the crystal (perfect lattice).
        target: the potential.
        temperature: K.
        pressure: eV/Å³.
        steps: production steps (a quarter as many more are run first and discarded).
        settings: integration and barostat settings.
        criterion: the solid-like test; ``min_fraction``: the smallest solid fraction of a
            crystal that has not melted.
        seed: seeds the velocities and the thermostat.
        progress: called with the number of steps done after every chunk.

    Returns:
        A JSON-ready dict: ``cell`` (3, 3) Å, ``volume`` and ``sigma_volume`` Å³/atom,
        ``pressure_mean_GPa``, ``pressure_error_GPa``, ``temperature``, ``solid_fraction_min``,
        ``series`` (volume equilibration summary), ``n_steps``, ``cpu_seconds``.
    """
    stride = settings.stride
    steps = max(stride, -(-int(steps) // stride) * stride)
    eq = -(-(steps // 4) // stride) * stride
    where = (f"{describe(atoms)} at {temperature:g} K and {pressure / GPA_TO_EV_PER_A3:g} GPa "
             "(crystal before the coexistence runs)")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 16]))
    d_nn = nearest_neighbour_distance(atoms.positions, np.array(atoms.cell))
    fractions: list[float] = []

    def check(md: BarostatMD) -> None:
        fraction = solid_fraction(md.positions(), md.cell(), d_nn, criterion)
        fractions.append(fraction)
        if fraction < min_fraction:
            raise CoexistenceError(
                f"{where}: the crystal melted before any interface was made (solid fraction "
                f"{fraction:.2f} after {md.step * settings.timestep:.1f} ps)",
                "lower --T-guess: the melting point of this potential is well below it")

    cpu = time.process_time()
    md = BarostatMD(atoms, target, temperature, settings, label=where)
    try:
        md.set_velocities(site_reference(atoms).sample_velocities(rng, temperature))
        md.set_path((1.0, 1.0), (pressure, pressure), lammps_seed(rng))
        if eq:
            md.run(eq, record=(), check=check, progress=progress)
        rec = md.run(steps, record=(VOLUME, PRESSURE, *CELL_VARS), check=check,
                     progress=progress)
        n_steps, coupling = md.step, md.coupling
    finally:
        md.close()
    n = len(atoms)
    vol = summarize_series(rec[:, 1] / n)
    press = summarize_series(rec[:, 2] / BAR_PER_EV_A3 / GPA_TO_EV_PER_A3)
    cell = cell_from_lammps(rec[vol.discarded:, 3:9].mean(axis=0), md.rotation)
    return {"cell": cell.tolist(), "volume": vol.mean, "sigma_volume": vol.error,
            "pressure_mean_GPa": press.mean, "pressure_error_GPa": press.error,
            "temperature": float(temperature), "coupling": coupling,
            "solid_fraction_min": float(min(fractions)) if fractions else float("nan"),
            "series": vol.to_dict(), "n_steps": n_steps,
            "cpu_seconds": time.process_time() - cpu}
