"""Generated volume grids: a phase's ``volumes: {around: equilibrium, …}`` resolved to a list.

The grid covers the reference potential's equilibrium volumes V*(P, T) over the requested
pressures and the campaign's isosurface temperatures (:func:`~phasetune.harmonic.equilibrium.
equilibrium_volumes`), widened by ``span``.  It is resolved **once**: the record (request, volumes,
equation of state, reference potential SHA-256) is stored in the archive's ``sampler`` metadata,
and a later run reuses the recorded volumes instead of re-deriving them.  A later run whose grid
request or reference potential differs from the record is refused (docs/campaign.md).
"""

from __future__ import annotations

import json
import logging
import tempfile
import time

import numpy as np
from ase.data import atomic_numbers, covalent_radii, reference_states

from ..errors import ConfigError, PhasetuneError
from ..harmonic.equilibrium import equilibrium_volumes
from ..potentials.linear import LinearPotential, PairPotential
from ..structures.crystals import crystal
from .spec import (
    CampaignSpec,
    PhaseSpec,
    VolumeGridSpec,
    check_phase_cells,
    descriptor_spec,
    reference_potential,
)

DECIMALS = 4
"""Generated volumes are rounded to 10⁻⁴ Å³/atom (readable, and exact through JSON)."""
_ATOMS_PER_CELL = {"bcc": 2, "fcc": 4, "diamond": 8, "sc": 1}


def guess_volume(element: str) -> float:
    """A starting volume per atom, Å³: ASE's reference state of the element when it is cubic or
    hcp, else a close-packed estimate from the covalent radius (the search walks from it)."""
    z = atomic_numbers[element]
    state = reference_states[z] or {}
    symmetry, a = state.get("symmetry"), state.get("a")
    if symmetry in _ATOMS_PER_CELL and a:
        return float(a ** 3 / _ATOMS_PER_CELL[symmetry])
    if symmetry == "hcp" and a and state.get("c/a"):
        return float(np.sqrt(3) / 4 * a ** 3 * state["c/a"])
    d = 2.0 * float(covalent_radii[z])
    return d ** 3 / np.sqrt(2.0)


def grid_request(phase: PhaseSpec) -> dict:
    """What a phase's grid depends on besides the potential and the temperatures (JSON form)."""
    grid = phase.volumes
    assert isinstance(grid, VolumeGridSpec)
    request = {"grid": grid.model_dump(mode="json"),
               **phase.model_dump(mode="json", include={"structure", "element", "cells",
                                                        "covera", "mass"})}
    return json.loads(json.dumps(request))


def generate(phase: PhaseSpec, spec: CampaignSpec, where: str) -> dict:
    """Resolve one phase's grid: the record to store (volumes Å³/atom, equation of state)."""
    grid = phase.volumes
    assert isinstance(grid, VolumeGridSpec)
    started = time.perf_counter()
    pot = reference_potential(spec)
    atoms = crystal(phase.structure, phase.element, volume=guess_volume(phase.element),
                    cells=phase.cells, covera=phase.covera, mass=phase.mass)
    temps = list(spec.isosurfaces.temperatures) if grid.thermal != "none" else []
    pressures = sorted({0.0, *grid.pressure_range})  # P = 0 always: V0, B0 are reported
    rows = [pressures.index(p) for p in grid.pressure_range]
    try:
        eq = equilibrium_volumes(pot, atoms, pressures, temps, thermal=grid.thermal,
                                 hessian_step=spec.hessian_step)
    except PhasetuneError as exc:
        raise ConfigError(f"{where}: {exc.message}", exc.hint) from None
    covered = eq.volumes[rows].ravel() if temps else eq.v0[rows]
    lo, hi = float(covered.min()), float(covered.max())
    if grid.count == 1:
        volumes = [0.5 * (lo + hi)]
    else:
        volumes = np.linspace(lo * (1 + grid.span[0]), hi * (1 + grid.span[1]), grid.count)
    volumes = [round(float(v), DECIMALS) for v in volumes]
    if len(set(volumes)) != len(volumes):
        raise ConfigError(f"{where}: the {grid.count} volumes would coincide (the equilibrium "
                          f"volumes span only {lo:.4f}–{hi:.4f} Å³/atom)",
                          "widen span, e.g. span: [-2 %, +2 %]")
    return {"request": grid_request(phase), "volumes": volumes,
            "temperatures_K": list(spec.isosurfaces.temperatures), "covered": [lo, hi],
            "equation_of_state": eq.summary(), "reference_sha256": reference_sha256(pot),
            "evaluations": eq.evaluations,
            "resolve_seconds": round(time.perf_counter() - started, 3)}


def reference_sha256(pot: PairPotential | LinearPotential) -> str:
    """SHA-256 of the LAMMPS form of the reference (as in the archive's metadata)."""
    if not isinstance(pot, LinearPotential):
        return pot.sha256
    with tempfile.TemporaryDirectory() as workdir:
        return pot.pair_potential(workdir).sha256


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key} {a!r} → {b!r}")
    return out


def resolve_volume_grids(spec: CampaignSpec, frozen: dict | None = None,
                         log: logging.Logger | None = None) -> tuple[CampaignSpec, dict]:
    """The spec with every generated grid replaced by its list of volumes, and the records.

    Args:
        spec: a validated campaign.
        frozen: the records of a previous run (``archive.metadata["sampler"]["volume_grids"]``),
            by phase name; a phase found there reuses its volumes (nothing is re-derived).
        log: where each grid is reported (also to the terminal: ``extra={"terminal": True}``).

    Returns:
        (resolved spec, {phase name: record}) for the generated phases only.

    Raises:
        ConfigError: a frozen grid whose request or reference potential differs from the
            campaign's, an equation of state that cannot be built, or a supercell that is too
            small at a generated volume.
    """
    frozen = frozen or {}
    records, phases = {}, []
    cutoff = None
    for i, phase in enumerate(spec.phases):
        if not phase.generated:
            phases.append(phase)
            continue
        where = f"phases[{i}].volumes"
        old = frozen.get(phase.name)
        if old is None:
            record = generate(phase, spec, where)
            how = (f"generated in {record['resolve_seconds']:.1f} s from "
                   f"{record['evaluations']} energies")
        else:
            record = old
            _check_frozen(phase, spec, old, where)
            how = "frozen in the archive"
            if log is not None and old["temperatures_K"] != list(spec.isosurfaces.temperatures):
                log.warning("%s: frozen for isosurface temperatures %s K, not %s K; the grid is "
                            "kept (V*(P, T) may leave it at the new temperatures: list more "
                            "volumes explicitly if needed)", where, old["temperatures_K"],
                            list(spec.isosurfaces.temperatures))
        resolved = phase.model_copy(update={"volumes": list(record["volumes"])})
        cutoff = cutoff or reference_potential(spec).cutoff or descriptor_spec(spec).cutoff
        check_phase_cells(resolved, cutoff, f"phases[{i}]")
        phases.append(resolved)
        records[phase.name] = record
        if log is not None:
            log.info("%s", describe_record(phase.name, record, how),
                     extra={"terminal": True})
    return spec.model_copy(update={"phases": phases}), records


def _check_frozen(phase: PhaseSpec, spec: CampaignSpec, old: dict, where: str) -> None:
    listed = ", ".join(f"{v:g}" for v in old["volumes"])
    if old.get("reference_sha256") != reference_sha256(reference_potential(spec)):
        raise ConfigError(
            f"{where}: the archive froze phase {phase.name}'s generated volumes [{listed}] "
            "with another reference potential (its sha256 differs)",
            "restore the original reference potential, or use a new archive")
    changes = _differences(old.get("request", {}), grid_request(phase))
    if changes:
        raise ConfigError(
            f"{where}: the archive froze phase {phase.name}'s generated volumes [{listed}], "
            f"but the request changed ({'; '.join(changes)})",
            f"restore the request, or list volumes explicitly (volumes: [{listed}, …]) to "
            "add others, or use a new archive")


def describe_record(name: str, record: dict, how: str = "") -> str:
    """One line: the phase's generated volumes and the equation of state behind them."""
    eos = record["equation_of_state"]
    grid = record["request"]["grid"]
    p_lo, p_hi = min(grid["pressures"] or [0.0]), max(grid["pressures"] or [0.0])
    pressures = f"{p_lo:g}" + (f"–{p_hi:g}" if p_hi > p_lo else "")
    temps = "–".join(f"{t:g}" for t in record["temperatures_K"])
    lo, hi = record["covered"]
    span = ", ".join(f"{100 * s:+g} %" for s in grid["span"])
    zero = eos["pressures_GPa"].index(0.0)
    return (f"phase {name}: volumes {', '.join(f'{v:g}' for v in record['volumes'])} Å³/atom "
            f"({how + '; ' if how else ''}V*(P, T) = {lo:.4f}–{hi:.4f} over P = {pressures} GPa"
            f"{', T = ' + temps + ' K' if eos['thermal'] != 'none' else ''}, span {span}; "
            f"static V0 = {eos['V0'][zero]:.4f} Å³/atom, B0 = {eos['B0_GPa'][zero]:.1f} GPa, "
            f"γ = {eos['gruneisen']:.3g} ({eos['thermal']}))")
