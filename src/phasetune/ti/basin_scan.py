"""Where does a crystal leave its basin in MD?  A temperature scan with the basin guard.

The estimator never sees melting or a transformation: its shells are built around the lattice
(method.md §4). A short NVT run of the potential itself at each temperature, with the TI basin
guard (live site displacements, then quench and common-neighbour analysis; ``ti/basin.py``),
finds the first temperature at which the crystal leaves, and the structure it went to. The
record is kept beside the archive (``<archive>.basin.json``) per phase and potential (by
sha256); ``phasetune predict`` then refuses those temperatures for that potential instead of
printing a number.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import Atoms

from ..archive.sidecar import read_sidecar, sidecar_path, write_sidecar
from ..estimator.prediction import LEFT_BASIN, Prediction
from ..model import HarmonicReference
from ..potentials.linear import LinearPotential, PairPotential
from .basin import BasinGuard, CrystalLeftBasinError
from .md import CoupledMD, MDSettings, lammps_seed

FORMAT = "phasetune-basin"
VERSION = 1
DEFAULT_STEPS = 4000


@dataclass
class BasinScan:
    """Outcome of :func:`basin_scan` for one phase and potential.

    Attributes:
        phase: phase name.  potential: its name.  potential_sha256: what it is.
        temperatures: K, those run, ascending (the last is where it left, if it did).
        left_at: K, the first temperature at which the crystal left its basin, or None.
        message: the guard's words for it (displacements, CNA of the quenched structure).
        steps: NVT steps per temperature (after a quarter as many of equilibration).
        diagnostics: per temperature run inside the basin, the guard's diagnostics.
    """

    phase: str
    potential: str
    potential_sha256: str
    temperatures: list[float]
    left_at: float | None
    message: str | None
    steps: int
    diagnostics: dict[str, dict] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def basin_scan(atoms: Atoms, reference: HarmonicReference,
               potential: PairPotential | LinearPotential,
               temperatures: Sequence[float], *, phase: str = "", steps: int = DEFAULT_STEPS,
               seed: int = 0, settings: MDSettings | None = None,
               progress: Callable[[str], None] | None = None) -> BasinScan:
    """Run NVT MD of ``potential`` at each temperature (ascending) until the crystal leaves.

    Args:
        atoms: the crystal (species, masses, cell, ``info['structure']``).
        reference: its harmonic reference (sites; the start is a harmonic draw at T).
        potential: the potential (a linear one runs as its LAMMPS pair form; the record keeps
            the linear potential's name and sha256, as predict sees it).
        temperatures: K.  steps: production steps per temperature (a multiple of the stride).
        seed: random seed.  settings: MD settings (default :class:`MDSettings`).
        progress: called with a line of text per temperature.
    """
    if isinstance(potential, LinearPotential):   # its LAMMPS pair form, files in a tmp dir
        with tempfile.TemporaryDirectory() as workdir:
            scan = basin_scan(atoms, reference, potential.pair_potential(workdir), temperatures,
                              phase=phase, steps=steps, seed=seed, settings=settings,
                              progress=progress)
        return replace(scan, potential=potential.name,
                       potential_sha256=potential_sha256(potential))
    settings = settings or MDSettings()
    steps = int(np.ceil(steps / settings.stride) * settings.stride)
    equilibration = int(np.ceil(steps / 4 / settings.stride) * settings.stride)
    rng = np.random.default_rng(seed)
    done, diagnostics = [], {}
    for t in sorted(float(x) for x in temperatures):
        where = f"{phase or reference.phase} at {t:g} K"
        md = CoupledMD(atoms, reference, potential, t, settings, mode="plain", label=where)
        guard = BasinGuard(reference, atoms, potential, context=where)
        done.append(t)
        try:
            md.set_state(reference.sample_displacements(rng, t),
                         reference.sample_velocities(rng, t))
            md.set_thermostat(lammps_seed(rng))
            md.run(equilibration + steps, record=(), check=guard)
            guard.check_quench(md.positions())
            diagnostics[f"{t:g}"] = guard.diagnostics()
        except CrystalLeftBasinError as exc:
            if progress:
                progress(f"{where}: left its basin")
            return BasinScan(phase or reference.phase, potential.name,
                             potential_sha256(potential), done, t, str(exc), steps, diagnostics)
        finally:
            guard.close()
            md.close()
        if progress:
            progress(f"{where}: in its basin (Lindemann ratio "
                     f"{diagnostics[f'{t:g}']['lindemann_ratio']:.3f})")
    return BasinScan(phase or reference.phase, potential.name, potential_sha256(potential), done,
                     None, None, steps, diagnostics)


def potential_sha256(potential: PairPotential | LinearPotential) -> str:
    """What a scan is recorded under: a pair potential's own hash (commands and files); for a
    linear one, the hash of its descriptor spec, β0 and θ. (Not its pair form's hash: a θ that
    differs from its files is written to a temporary folder whose path enters the commands.)"""
    if isinstance(potential, LinearPotential):
        digest = hashlib.sha256(potential.spec.sha256.encode())
        digest.update(np.float64(potential.beta0()).tobytes())
        digest.update(np.ascontiguousarray(potential.theta, dtype=np.float64).tobytes())
        return digest.hexdigest()
    return potential.sha256


def record_path(archive: str | Path) -> Path:
    """``<archive>.basin.json``."""
    return sidecar_path(archive, "basin")


def read_records(archive: str | Path) -> dict:
    """{phase: {potential sha256: scan dict}} of the archive's basin record ({} if none)."""
    return read_sidecar(record_path(archive), FORMAT, VERSION, "run phasetune basin again")


def write_record(archive: str | Path, scan: BasinScan) -> Path:
    """Add (or replace) one scan in the archive's basin record, atomically."""
    phases = read_records(archive)
    phases.setdefault(scan.phase, {})[scan.potential_sha256] = scan.to_dict()
    return write_sidecar(record_path(archive), FORMAT, VERSION, phases)


def refuse_left_basin(prediction: Prediction, scan: dict, models: Sequence[int] | None = None
                      ) -> Prediction:
    """Mark every temperature at or above ``scan['left_at']`` unsolved (bit LEFT_BASIN), with
    no number (NaN), for the given model columns (default all); in place, returned."""
    left = scan.get("left_at")
    if left is None:
        return prediction
    rows = np.asarray(prediction.temperatures) >= float(left)
    cols = slice(None) if models is None else np.asarray(models)
    for name in ("F_total", "F_vib", "sigma_F", "entropy"):
        values = getattr(prediction, name)
        block = values[:, cols]
        block[rows] = np.nan
        values[:, cols] = block
    status = prediction.status[:, cols]
    status[rows] |= LEFT_BASIN
    prediction.status[:, cols] = status
    prediction.solved[...] = prediction.status == 0
    prediction.info = {**prediction.info, "basin": {"left_at": float(left),
                                                    "message": scan.get("message")}}
    return prediction
