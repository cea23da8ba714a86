"""The YAML configuration of ``phasetune reweight sample``.

Example (units: K, GPa, Å³/atom, steps)::

    potential: lammps:Mo_Chen_PRM2017   # lammps:NAME or a path (relative to this file)
    structure: bcc            # a prototype of structures.crystals (or structure_file: POSCAR)
    element: Mo               # default: the potential's only element
    volume: 15.9              # Å³/atom (or lattice_constant: Å)
    cells: 3                  # or [3, 3, 3]
    temperature: 1000
    pressure: null            # GPa for NPT (δG); null/absent for NVT (δF)
    steps: 20000
    stride: 20
    equilibration: 2000
    chunk_frames: 50
    seed: 0
    out: mo_bcc_1000K.h5      # relative to the YAML file's folder
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..constants import GPA_TO_EV_PER_A3
from ..errors import ConfigError
from ..yamlconfig import resolve_path
from .sampling import SamplingSettings

REQUIRED = ("potential", "temperature", "out")
OPTIONAL = {"structure": None, "structure_file": None, "element": None, "volume": None,
            "lattice_constant": None, "cells": 1, "mass": None, "pressure": None,
            "steps": 20_000, "stride": 20, "equilibration": 2_000, "chunk_frames": 50,
            "timestep": 1e-3, "damping": 0.04, "pressure_damping": 1.0, "seed": 0}


@dataclass
class SampleConfig:
    """A validated configuration (pressure in eV/Å³, ``out`` resolved)."""

    values: dict
    out: Path
    pressure: float | None
    settings: SamplingSettings

    def atoms(self, potential: Any):  # noqa: ANN201 - ase.Atoms
        from ..structures.crystals import build_structure

        v = self.values
        cells = v["cells"]
        cells = (cells,) if isinstance(cells, int) else tuple(cells)
        return build_structure(potential, v["structure"], v["structure_file"], v["element"],
                               v["volume"], v["lattice_constant"], cells, v["mass"])


def load_config(path: str | Path) -> SampleConfig:
    """Read and validate a sampling YAML (unknown or missing keys are one-line errors)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path}: {str(exc).splitlines()[0]}",
                          "give a readable YAML file") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the configuration must be a mapping of keys",
                          "see `phasetune reweight sample --help` for an example")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(unknown)}",
                          f"allowed: {', '.join((*REQUIRED, *OPTIONAL))}")
    missing = [k for k in REQUIRED if data.get(k) is None]
    if missing:
        raise ConfigError(f"{path}: missing {', '.join(missing)}", "add them to the YAML")
    values = {**OPTIONAL, **data}
    for key in ("temperature", "steps", "stride", "equilibration", "chunk_frames", "seed"):
        if not isinstance(values[key], int | float) or isinstance(values[key], bool):
            raise ConfigError(f"{path}: {key} must be a number, got {values[key]!r}")
    if not values["temperature"] > 0:
        raise ConfigError(f"{path}: temperature must be positive (K)")
    if (values["structure"] is None) == (values["structure_file"] is None):
        raise ConfigError(f"{path}: give exactly one of structure and structure_file")
    pressure = values["pressure"]
    if pressure is not None:
        if not isinstance(pressure, int | float):
            raise ConfigError(f"{path}: pressure must be a number of GPa or null")
        pressure = float(pressure) * GPA_TO_EV_PER_A3
    names = ("steps", "stride", "equilibration", "chunk_frames")
    settings = SamplingSettings(**{k: int(values[k]) for k in names},
                                timestep=float(values["timestep"]),
                                damping=float(values["damping"]),
                                pressure_damping=float(values["pressure_damping"]))
    out = Path(values["out"])
    if not out.is_absolute():
        out = path.parent / out
    potential = str(values["potential"])
    if not potential.startswith("lammps:") and not Path(potential).is_absolute():
        values["potential"] = str(resolve_path(Path(potential), path.parent))
    if values["structure_file"] and not Path(values["structure_file"]).is_absolute():
        values["structure_file"] = str(path.parent / values["structure_file"])
    return SampleConfig(values, out, pressure, settings)
