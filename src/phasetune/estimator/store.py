"""Estimators from archives: score fits stored beside the archive (``NAME.fit.h5``, versioned,
keyed by the hash of the data and settings), refitted automatically when missing or stale, and
the check that a potential's descriptors are the archive's descriptors."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import h5py
import numpy as np

from ..archive.hdf5 import read_archive
from ..archive.model import PhaseVolume
from ..conventions import Conventions
from ..errors import ArchiveError, EstimatorError
from ..potentials.linear import DESCRIPTOR_KEYS, LinearPotential
from ..scoring.score_matching import (
    DEFAULT_DEGREE,
    DEFAULT_RIDGE,
    Degree,
    PhaseVolumeFit,
    fit_phase_volume,
)
from .ddos import DDOSEstimator

FIT_FORMAT = "phasetune-fit"


def fit_path(archive: str | Path) -> Path:
    """``run.h5`` → ``run.fit.h5``."""
    archive = Path(archive)
    return archive.with_name(archive.stem + ".fit.h5")


def _key(phase: str, volume_index: int) -> str:
    return f"{phase}/v{volume_index}"


def load_fit(archive: str | Path, phase: str, volume_index: int) -> PhaseVolumeFit | None:
    """The stored fit of (phase, volume), or None if absent or unreadable."""
    path = fit_path(archive)
    if not path.exists():
        return None
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("format") != FIT_FORMAT or _key(phase, volume_index) not in h5:
                return None
            data = json.loads(h5[_key(phase, volume_index)][()])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    for shell in data["shells"]:
        for name, value in shell.items():
            if isinstance(value, list):
                shell[name] = np.asarray(value)
    try:
        return PhaseVolumeFit.from_dict(data)
    except (OSError, KeyError, ValueError, TypeError):
        return None


def save_fit(archive: str | Path, phase: str, volume_index: int, fit: PhaseVolumeFit) -> Path:
    """Store (or replace) one fit atomically (temporary file + rename)."""
    path = fit_path(archive)
    entries: dict[str, bytes] = {}
    if path.exists():
        try:
            with h5py.File(path, "r") as h5:
                h5.visititems(lambda name, obj: entries.__setitem__(name, obj[()])
                              if isinstance(obj, h5py.Dataset) else None)
        except OSError:
            entries = {}
    entries[_key(phase, volume_index)] = json.dumps(fit.to_dict(), default=_jsonable).encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as h5:
            h5.attrs["format"] = FIT_FORMAT
            h5.attrs["fit_version"] = fit.version
            for key, blob in entries.items():
                h5[key] = np.bytes_(blob) if isinstance(blob, bytes) else blob
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _jsonable(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(type(obj))


def fitted(archive: str | Path, phase: str, volume_index: int, phase_volume: PhaseVolume,
           degree: Degree = DEFAULT_DEGREE, ridge: float = DEFAULT_RIDGE,
           save: bool = True) -> tuple[PhaseVolumeFit, bool]:
    """(fit, refitted): the stored fit if current, else a new fit (stored when ``save``)."""
    fit = load_fit(archive, phase, volume_index)
    if fit is not None and not fit.is_stale(phase_volume, degree, ridge):
        return fit, False
    fit = fit_phase_volume(phase_volume, degree, ridge)
    if save:
        try:
            save_fit(archive, phase, volume_index, fit)
        except OSError:
            pass  # a read-only location: the fit is simply recomputed next time
    return fit, True


def check_potential(potential: LinearPotential, phase_volume: PhaseVolume) -> None:
    """Refuse a potential whose descriptors differ from the archive's (length, fixed parts,
    hyper-parameters), naming the first difference."""
    info = phase_volume.descriptors
    spec = potential.spec
    where = f"archive phase {phase_volume.reference.phase!r}"
    if spec.n_components != info.n_components:
        raise EstimatorError(
            f"descriptor mismatch: {potential.name} has {spec.n_components} components, the "
            f"{where} has {info.n_components}",
            "evaluate potentials with the descriptor spec the campaign sampled")
    if not np.array_equal(spec.fixed_mask, np.asarray(info.fixed, dtype=bool)):
        raise EstimatorError(f"descriptor mismatch: fixed (θ-independent) components of "
                             f"{potential.name} differ from the {where}")
    params = info.params.get("params", info.params)
    for key in DESCRIPTOR_KEYS:
        if key in params and key in spec.params.values:
            if not np.isclose(float(params[key]), float(spec.params.values[key]), rtol=1e-9):
                raise EstimatorError(
                    f"descriptor mismatch: {key} = {spec.params.values[key]} in "
                    f"{potential.name}, {params[key]} in the {where}",
                    "evaluate potentials with the descriptor spec the campaign sampled")


def load_estimators(archive: str | Path, *, phases: list[str] | None = None,
                    volume_index: int = 0, conventions: Conventions | None = None,
                    degree: Degree = DEFAULT_DEGREE, ridge: float = DEFAULT_RIDGE,
                    route: str = "score") -> dict[str, DDOSEstimator]:
    """One estimator per phase of an archive (at ``volume_index``), reusing stored fits;
    ``route`` sets each estimator's default prediction route."""
    if route not in ("score", "cumulant"):
        raise EstimatorError(f"unknown route {route!r}", "use 'score' or 'cumulant'")
    data = read_archive(archive)
    names = phases or data.phases
    out = {}
    for name in names:
        if name not in data.phases:
            raise ArchiveError(f"phase {name!r} is not in {archive}",
                               f"phases there: {', '.join(data.phases)}")
        pv = data.get(name, volume_index)
        fit, _ = fitted(archive, name, volume_index, pv, degree, ridge)
        out[name] = DDOSEstimator(pv, conventions or Conventions(), degree, ridge=ridge, fit=fit)
        out[name].route = route
    return out


def load_phase_estimators(archives: list[Path], conventions: Conventions, degree: Degree,
                          route: str = "score") -> dict[str, DDOSEstimator]:
    """Phases from several archives; a phase present twice is an error."""
    estimators: dict[str, DDOSEstimator] = {}
    for path in archives:
        for name, est in load_estimators(path, conventions=conventions, degree=degree,
                                         route=route).items():
            if name in estimators:
                raise EstimatorError(f"phase {name!r} appears in more than one archive")
            estimators[name] = est
    return estimators
