"""Archive schema: format constants, root-metadata validation and compatibility, the checksum, and
the in-memory :class:`Archive` (docs/archive.md).  No file I/O here; see :mod:`.hdf5`."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..conventions import Conventions
from ..errors import ArchiveError
from ..jsonutil import dumps_exact
from ..model import DescriptorInfo, PhaseVolume

FORMAT = "phasetune-ddos"
FORMAT_VERSION = 1
REQUIRED_METADATA = ("conventions", "sampler", "reference_potential")
OPTIONAL_METADATA = ("units", "descriptor", "provenance", "extra")
MANAGED_METADATA = ("format", "format_version", "phasetune_version", "created", "modified")
JSON_ATTRS = REQUIRED_METADATA + OPTIONAL_METADATA
DEFAULT_UNITS = {
    "energy": "eV",
    "length": "Angstrom",
    "mass": "amu",
    "time": "ps",
    "temperature": "K",
    "omega": "eV/Angstrom^2",
    "e_alpha": "Angstrom^2 per atom",
    "descriptors": "per-atom averages",
    "energies": "eV/atom",
}
VOLUME_RTOL = 1e-9
"""Volumes per atom closer than this (relative) are the same volume."""


@dataclass
class Archive:
    """A loaded archive: root ``metadata`` (parsed JSON attrs + versions and timestamps) and one
    :class:`PhaseVolume` per (phase, volume), phases in file order, volumes by increasing V."""

    metadata: dict
    phase_volumes: list[PhaseVolume]
    path: Path | None = None

    @property
    def phases(self) -> list[str]:
        return list(dict.fromkeys(pv.reference.phase for pv in self.phase_volumes))

    def volumes(self, phase: str) -> list[PhaseVolume]:
        """Volumes of ``phase`` by increasing volume per atom."""
        pvs = [pv for pv in self.phase_volumes if pv.reference.phase == phase]
        return sorted(pvs, key=lambda pv: pv.reference.volume)

    def get(self, phase: str, volume_index: int = 0) -> PhaseVolume:
        """The ``volume_index``-th smallest volume of ``phase``."""
        pvs = self.volumes(phase)
        if not 0 <= volume_index < len(pvs):
            raise ArchiveError(
                f"archive has no volume {volume_index} of phase {phase!r} ({len(pvs)} volume(s))",
                f"available phases: {', '.join(self.phases) or 'none'}",
            )
        return pvs[volume_index]


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys; numpy values converted; NaN kept)."""
    return dumps_exact(obj, sort_keys=True)


def checksum(arr: np.ndarray) -> str:
    """SHA-256 hex digest of an array's dtype, shape and C-order bytes."""
    arr = np.asarray(arr)
    digest = hashlib.sha256(f"{arr.dtype.str}{arr.shape}".encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


def now_iso() -> str:
    """Current UTC time, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def descriptor_spec(info: DescriptorInfo) -> dict:
    """The JSON form of a DescriptorInfo stored in the root ``descriptor`` attribute."""
    labels = [str(x) for x in info.labels]
    return {
        "kind": info.kind,
        "params": dict(info.params),
        "labels": labels,
        "fixed": [bool(x) for x in np.asarray(info.fixed, dtype=bool)],
        "n_components": len(labels),
    }


def descriptor_info(spec: dict) -> DescriptorInfo:
    """Inverse of :func:`descriptor_spec` (``fixed`` defaults to all False)."""
    labels = list(spec["labels"])
    fixed = np.asarray(spec.get("fixed", [False] * len(labels)), dtype=bool)
    return DescriptorInfo(spec["kind"], dict(spec.get("params", {})), labels, fixed)


def root_metadata(metadata: dict, phase_volumes: list[PhaseVolume]) -> dict:
    """Validate caller metadata and return the JSON attributes to store (descriptor filled in
    from the phase volumes, which must all share one descriptor spec)."""
    if not isinstance(metadata, dict):
        raise ArchiveError(f"metadata must be a dict, got {type(metadata).__name__}")
    unknown = sorted(set(metadata) - set(JSON_ATTRS) - set(MANAGED_METADATA))
    missing = [k for k in REQUIRED_METADATA if k not in metadata]
    if unknown or missing:
        raise ArchiveError(
            f"archive metadata: unknown keys {unknown}, missing keys {missing}",
            f"required: {', '.join(REQUIRED_METADATA)}; optional: {', '.join(OPTIONAL_METADATA)}",
        )
    root = {k: metadata[k] for k in JSON_ATTRS if k in metadata}
    for key, value in root.items():
        if not isinstance(value, dict):
            raise ArchiveError(f"metadata[{key!r}] must be a dict, got {type(value).__name__}")
        try:
            canonical_json(value)
        except (TypeError, ValueError) as exc:
            raise ArchiveError(f"metadata[{key!r}] is not JSON-serialisable: {exc}") from exc
    root.setdefault("units", dict(DEFAULT_UNITS))
    root.setdefault("provenance", {})
    specs = {canonical_json(descriptor_spec(pv.descriptors)) for pv in phase_volumes}
    if len(specs) > 1:
        raise ArchiveError(
            "the phase volumes use different descriptor specs",
            "store one descriptor spec per archive",
        )
    given = dict(root.get("descriptor", {}))
    if specs:
        spec = json.loads(specs.pop())
        clash = [
            k for k in spec if k in given and canonical_json(given[k]) != canonical_json(spec[k])
        ]
        if clash:
            raise ArchiveError(f"metadata['descriptor'] disagrees with the data on {clash}")
        given.update(spec)
    if "kind" not in given or "labels" not in given:
        raise ArchiveError("no descriptor spec", "pass phase volumes or metadata['descriptor']")
    root["descriptor"] = given
    Conventions(**{k: v for k, v in root["conventions"].items() if k in ("modes", "statistics")})
    return root


def compatibility_problems(a: dict, b: dict) -> list[str]:
    """Why two archives' metadata cannot be combined (empty if compatible): descriptor spec,
    reference potential (its ``sha256`` entry if present, else the whole dict), conventions."""
    core = ("kind", "params", "labels", "fixed")

    def desc(m):
        return canonical_json({k: m.get("descriptor", {}).get(k) for k in core})

    def pot(m):
        rp = m.get("reference_potential", {})
        return rp.get("sha256") or canonical_json(rp)

    checks = {
        "descriptor spec": desc,
        "reference potential": pot,
        "conventions": lambda m: canonical_json(m.get("conventions", {})),
    }
    return [f"{name} differs" for name, key in checks.items() if key(a) != key(b)]


def group_volumes(phase_volumes: list[PhaseVolume]) -> dict[str, list[PhaseVolume]]:
    """Validate the phase volumes and group them by phase (first-appearance order), each phase's
    volumes sorted by increasing volume per atom."""
    groups: dict[str, list[PhaseVolume]] = {}
    for pv in phase_volumes:
        name, n_d = pv.reference.phase, pv.descriptors.n_components
        where = f"phase {name!r} V={pv.reference.volume:g} Å³/atom"
        if not name or "/" in name or name.startswith("."):
            raise ArchiveError(f"invalid phase name {name!r}", "use e.g. 'bcc' (no '/')")
        sizes = sorted({len(pv.reference.D0)} | {len(s.mean) for s in pv.shells})
        if sizes != [n_d]:
            raise ArchiveError(f"{where}: D0/shell sizes {sizes} differ from N_D = {n_d}")
        if np.any(np.diff(np.sort(pv.alphas)) <= 0):
            raise ArchiveError(f"{where}: two shells have the same α", "merge them first")
        groups.setdefault(name, []).append(pv)
    for name, pvs in groups.items():
        pvs.sort(key=lambda pv: pv.reference.volume)
        vols = np.array([pv.reference.volume for pv in pvs])
        if np.any(np.diff(vols) <= VOLUME_RTOL * vols[1:]):
            raise ArchiveError(f"phase {name!r} has two entries for the same volume")
    return groups
