"""Estimators from archives: score fits stored beside the archive (``NAME.fit.h5``, see
:mod:`phasetune.archive.fits`; versioned, keyed by the hash of the data and settings), refitted
automatically when missing, stale or damaged, and the check that a potential's descriptors are the
archive's descriptors."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..archive.fits import fit_path, read_fit, write_fit
from ..archive.hdf5 import read_archive
from ..archive.schema import Archive
from ..conventions import Conventions
from ..errors import ArchiveError, EstimatorError, PotentialError, StorageError
from ..model import PhaseVolume
from ..potentials.linear import DESCRIPTOR_KEYS, LinearPotential
from ..scoring.score_matching import (
    DEFAULT_DEGREE,
    DEFAULT_RIDGE,
    Degree,
    PhaseVolumeFit,
    fit_phase_volume,
)
from .anchors import attach_anchors
from .ddos import DDOSEstimator


@dataclass
class Fitted:
    """A fit of one (phase, volume) and how it was obtained.

    Attributes:
        fit: the fit.
        refitted: computed now (the stored one was absent, stale or damaged).
        stored: the fit file holds it after the call.
        note: why the stored fit was not used, or why the new one was not stored.
    """

    fit: PhaseVolumeFit
    refitted: bool
    stored: bool
    note: str | None = None


def load_fit(archive: str | Path, phase: str, volume_index: int) \
        -> tuple[PhaseVolumeFit | None, str | None]:
    """(the stored fit of (phase, volume) or None, why a stored entry could not be used)."""
    stored = read_fit(archive, phase, volume_index)
    if stored.data is None:
        return None, stored.problem
    try:
        data = json.loads(stored.data)
        for shell in data["shells"]:
            for name, value in shell.items():
                if isinstance(value, list):
                    shell[name] = np.asarray(value)
        return PhaseVolumeFit.from_dict(data), None
    except (KeyError, ValueError, TypeError) as exc:
        return None, f"{fit_path(archive)}: entry {phase}/v{volume_index} is not a fit ({exc})"


def fitted(archive: str | Path, phase: str, volume_index: int, phase_volume: PhaseVolume,
           degree: Degree = DEFAULT_DEGREE, ridge: float = DEFAULT_RIDGE,
           save: bool = True) -> Fitted:
    """The stored fit if current, else a new fit (stored when ``save`` and the folder allows)."""
    fit, problem = load_fit(archive, phase, volume_index)
    if fit is not None and not fit.is_stale(phase_volume, degree, ridge):
        return Fitted(fit, refitted=False, stored=True)
    fit = fit_phase_volume(phase_volume, degree, ridge)
    note = f"{problem}; refitted" if problem else None
    if not save:
        return Fitted(fit, refitted=True, stored=False, note=note)
    try:
        write_fit(archive, phase, volume_index, fit.to_dict(), fit.version)
    except (OSError, StorageError) as exc:  # read-only or full: recomputed next time
        reason = f"not stored in {fit_path(archive)}: {getattr(exc, 'message', exc)}"
        return Fitted(fit, refitted=True, stored=False,
                      note=f"{note}; {reason}" if note else reason)
    return Fitted(fit, refitted=True, stored=True, note=note)


def check_potential(potential: LinearPotential, phase_volume: PhaseVolume) -> None:
    """Refuse a potential whose descriptors differ from the archive's (length, fixed parts,
    hyper-parameters), naming the first difference."""
    info = phase_volume.descriptors
    spec = potential.spec
    where = f"archive phase {phase_volume.reference.phase!r}"
    fixed = np.asarray(info.fixed, dtype=bool)
    if phase_volume.flavour == "kinetic" and spec.n_components == info.n_components - 1:
        fixed = fixed[:-1]  # the kinetic component K/N (θ = 1) is the archive's own
    elif spec.n_components != info.n_components:
        raise EstimatorError(
            f"descriptor mismatch: {potential.name} has {spec.n_components} components, the "
            f"{where} has {info.n_components}",
            "evaluate potentials with the descriptor spec the campaign sampled")
    if not np.array_equal(spec.fixed_mask, fixed):
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


def load_volume_estimators(archive: str | Path, *, phases: list[str] | None = None,
                           conventions: Conventions | None = None,
                           degree: Degree = DEFAULT_DEGREE, ridge: float = DEFAULT_RIDGE,
                           route: str = "score", volume_index: int | None = None,
                           refit: bool = True, data: Archive | None = None
                           ) -> dict[str, list[DDOSEstimator]]:
    """Estimators of every sampled volume of each phase (increasing volume), reusing stored fits;
    only the ``volume_index``-th volume when given.  ``route`` sets each estimator's default
    prediction route.  With ``refit=False`` a missing or stale fit is an error (nothing is
    fitted).  ``data``: the archive already read (it is read from ``archive`` otherwise)."""
    if route not in ("score", "cumulant"):
        raise EstimatorError(f"unknown route {route!r}", "use 'score' or 'cumulant'")
    data = read_archive(archive) if data is None else data
    out: dict[str, list[DDOSEstimator]] = {}
    for name in phases or data.phases:
        if name not in data.phases:
            raise ArchiveError(f"phase {name!r} is not in {archive}",
                               f"phases there: {', '.join(data.phases)}")
        indices = range(len(data.volumes(name))) if volume_index is None else [volume_index]
        out[name] = []
        for k in indices:
            pv = attach_anchors(archive, data.get(name, k),
                                data.metadata.get("reference_potential", {}).get("sha256"))
            if refit:
                fit = fitted(archive, name, k, pv, degree, ridge).fit
            else:
                fit, problem = load_fit(archive, name, k)
                if fit is None or fit.is_stale(pv, degree, ridge):
                    why = problem or ("no stored fit" if fit is None else
                                      "the stored fit is stale (other data, settings or version)")
                    raise EstimatorError(f"{archive}: {why} for {name} v{k}",
                                         f"run `phasetune fit {archive}`")
            est = DDOSEstimator(pv, conventions or Conventions(), degree, ridge=ridge, fit=fit)
            est.route = route
            out[name].append(est)
    return out


def recorded_potential(metadata: dict) -> tuple[LinearPotential | None, str]:
    """The linear potential an archive records as its reference (θ0), found again by name
    (``lammps:NAME``, or a file named in its commands) and accepted only if its SHA-256 (commands
    and file contents) is the recorded one; else (None, why not)."""
    from ..potentials.registry import load_potential

    record = metadata.get("reference_potential", {}) or {}
    name, sha = record.get("name"), record.get("sha256")
    if not name or not sha:
        return None, "the archive records no reference potential (name and sha256)"
    candidates = [f"lammps:{name}", name]
    for command in record.get("commands", []):
        candidates += [w for w in command.split() if w.endswith((".snap", ".snapcoeff"))]
    tried = []
    for candidate in dict.fromkeys(candidates):
        try:
            pot = load_potential(candidate)
        except (PotentialError, OSError):
            continue
        if not isinstance(pot, LinearPotential):
            return None, f"the archive's reference potential {name} is not linear (SNAP)"
        with tempfile.TemporaryDirectory() as workdir:
            if pot.pair_potential(workdir).sha256 == sha:
                return pot, f"the archive's reference potential, found as {candidate}"
        tried.append(candidate)
    if tried:
        return None, (f"{', '.join(tried)} differ from the archive's reference potential {name} "
                      f"(sha256 {sha[:12]}…)")
    return None, f"the archive's reference potential {name} is not found here"


def load_estimators(archive: str | Path, *, phases: list[str] | None = None,
                    volume_index: int = 0, conventions: Conventions | None = None,
                    degree: Degree = DEFAULT_DEGREE, ridge: float = DEFAULT_RIDGE,
                    route: str = "score") -> dict[str, DDOSEstimator]:
    """One estimator per phase of an archive (at ``volume_index``, the smallest volume by
    default), reusing stored fits; ``route`` sets each estimator's default prediction route."""
    return {name: ests[0] for name, ests in load_volume_estimators(
        archive, phases=phases, conventions=conventions, degree=degree, ridge=ridge, route=route,
        volume_index=volume_index).items()}


def load_phase_estimators(archives: list[Path], conventions: Conventions, degree: Degree,
                          route: str = "score", all_volumes: bool = False
                          ) -> dict[str, DDOSEstimator] | dict[str, list[DDOSEstimator]]:
    """Phases from several archives (the smallest volume of each, or every volume as a list when
    ``all_volumes``); a phase present twice is an error."""
    estimators: dict = {}
    for path in archives:
        loaded = load_volume_estimators(path, conventions=conventions, degree=degree,
                                        route=route, volume_index=None if all_volumes else 0)
        for name, ests in loaded.items():
            if name in estimators:
                raise EstimatorError(f"phase {name!r} appears in more than one archive",
                                     "merge the archives (phasetune merge) or pass one of them")
            estimators[name] = ests if all_volumes else ests[0]
    return estimators
