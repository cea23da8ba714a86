"""The versioned, checksummed HDF5 archive of a D-DOS campaign (method.md §5; docs/archive.md).

Layout (all numbers are datasets, each with a ``sha256`` attribute over dtype + shape + bytes)::

    /                      attrs: format, format_version, phasetune_version, created, modified,
                           JSON: units, conventions, descriptor, sampler, reference_potential,
                           provenance[, extra]; attrs_sha256
    /phases/<phase>/v<i>   attrs: phase, flavour, provenance (JSON), attrs_sha256
        lattice/           cell, positions, mass, n_atoms, n_trans, volume, D0, E0_ref, beta0
        hessian/           omega, [eigenvectors], n_zero, step, residual, omega_bar, mean_log_nu
        shells/<k>/        every ShellStats field; attrs T_alpha, attrs_sha256

Volumes of a phase are stored by increasing volume (``v0`` smallest), shells by increasing α.

**Atomic commits.**  Every write builds the whole file in a temporary file in the target's
directory, flushes and fsyncs it, then ``os.replace``-s it onto the target: a process killed
mid-write leaves the previous archive intact.  Archives are small (0.1–0.3 MB per shell, independent
of the sample count), so rewriting the whole file per commit is cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from .._version import __version__
from ..atomic import write_bytes
from ..conventions import Conventions
from ..errors import ArchiveError, PhasetuneError
from ..model import DescriptorInfo, HarmonicReference, PhaseVolume, ShellStats
from .merging import merge_archives, summarize
from .schema import (
    FORMAT,
    FORMAT_VERSION,
    JSON_ATTRS,
    Archive,
    canonical_json,
    checksum,
    compatibility_problems,
    descriptor_info,
    group_volumes,
    now_iso,
    root_metadata,
)

__all__ = [
    "Archive",
    "merge_archives",
    "read_archive",
    "summarize",
    "update_archive",
    "write_archive",
]

REFERENCE_PATHS = {
    **{k: f"lattice/{k}" for k in ("cell", "positions", "mass", "n_atoms", "n_trans", "volume")},
    "D0": "lattice/D0",
    "E0": "lattice/E0_ref",
    "beta0": "lattice/beta0",
    **{k: f"hessian/{k}" for k in ("omega", "eigenvectors", "n_zero")},
    "hessian_step": "hessian/step",
    "hessian_residual": "hessian/residual",
}
"""HarmonicReference field → dataset path inside a volume group."""

CHECKSUM, ATTRS_CHECKSUM = "sha256", "attrs_sha256"


def attributes_digest(obj: h5py.HLObject) -> str:
    items = {k: v for k, v in obj.attrs.items() if k != ATTRS_CHECKSUM}
    return hashlib.sha256(canonical_json(items).encode()).hexdigest()


def seal_attributes(obj: h5py.HLObject) -> None:
    obj.attrs[ATTRS_CHECKSUM] = attributes_digest(obj)


def _put(group: h5py.Group, path: str, value: Any, annotation: str) -> None:
    """Write one field as a checksummed dataset (ints → int64, everything else → float64)."""
    arr = np.asarray(value)
    is_int = annotation == "int" or (annotation != "float" and arr.dtype.kind in "iub")
    arr = np.array(arr, dtype=np.int64 if is_int else np.float64, order="C")
    big = {"compression": "gzip", "shuffle": True} if arr.size > 4096 else {}
    ds = group.create_dataset(path, data=arr, **big)
    ds.attrs[CHECKSUM] = checksum(arr)


def _load(cls: type, group: h5py.Group, paths: dict[str, str], **given: Any) -> Any:
    """Build dataclass ``cls`` from datasets of ``group`` (missing optional fields → defaults)."""
    kwargs = dict(given)
    for fld in fields(cls):
        path = paths.get(fld.name, fld.name)
        if fld.name in kwargs:
            continue
        if path in group:
            value = group[path][()]
            kwargs[fld.name] = value.item() if np.ndim(value) == 0 else np.asarray(value)
        elif fld.default is MISSING and fld.default_factory is MISSING:
            raise ArchiveError(
                f"dataset {group.name}/{path} is missing", "the archive is incomplete or damaged"
            )
    return cls(**kwargs)


def _is_under(name: str, group: str) -> bool:
    """Whether a :func:`corrupted_objects` entry lies in (or is) HDF5 object ``group``."""
    for suffix in (" (attributes)", " (unreadable)"):
        name = name.removesuffix(suffix)
    return name == group or name.startswith(group + "/")


# ------------------------------------------------------------------------------------- writing
def _write_volume(group: h5py.Group, pv: PhaseVolume, conventions: dict) -> None:
    ref = pv.reference
    group.attrs.update(
        phase=ref.phase, flavour=pv.flavour, provenance=canonical_json(pv.provenance)
    )
    seal_attributes(group)
    ref_types = {f.name: str(f.type) for f in fields(HarmonicReference)}
    for name, path in REFERENCE_PATHS.items():
        if getattr(ref, name) is not None:
            _put(group, path, getattr(ref, name), ref_types[name])
    _put(group, "hessian/omega_bar", ref.omega_bar, "float")
    _put(group, "hessian/mean_log_nu", ref.mean_log_nu, "float")
    modes = Conventions(modes=conventions.get("modes", "3N"))
    shells = group.create_group("shells")
    for k, stats in enumerate(sorted(pv.shells, key=lambda s: s.alpha)):
        sg = shells.create_group(str(k))
        sg.attrs["T_alpha"] = ref.shell_temperature(stats.alpha, modes)
        seal_attributes(sg)
        for fld in fields(ShellStats):
            if getattr(stats, fld.name) is not None:
                _put(sg, fld.name, getattr(stats, fld.name), str(fld.type))


def hdf5_image(build: Callable[[h5py.File], None], **kwargs) -> bytes:
    """The bytes of an HDF5 file built by ``build`` entirely in memory (core driver, no backing
    store).  Writing those bytes is then one plain file write: a full disk or a file-size limit
    is an ordinary OSError, never an HDF5 library failure half-way through a file (which can
    crash the interpreter)."""
    with h5py.File(f"phasetune-image-{id(build)}", "w", driver="core", backing_store=False,
                   **kwargs) as f:
        build(f)
        f.flush()
        return f.id.get_file_image()


def _commit(path: Path, build: Callable[[h5py.File], None]) -> None:
    """Build the file in memory via ``build`` and atomically replace ``path`` with it."""
    write_bytes(path, hdf5_image(build, track_order=True))


def write_archive(
    path: str | Path,
    phase_volumes: list[PhaseVolume],
    metadata: dict,
    *,
    created: str | None = None,
) -> Path:
    """Atomically write a complete archive (replacing any file at ``path``).

    Args:
        path: target file; its directory must exist.
        phase_volumes: every (phase, volume) to store.
        metadata: dict with required keys ``conventions``, ``sampler``, ``reference_potential``
            and optional ``units``, ``descriptor``, ``provenance``, ``extra`` (all dicts);
            managed keys (``format``, ``created``, …) are accepted and regenerated.
        created: creation timestamp to keep (default: now).
    """
    path = Path(path)
    root = root_metadata(metadata, phase_volumes)
    groups = group_volumes(phase_volumes)
    now = now_iso()

    def build(f: h5py.File) -> None:
        f.attrs.update(format=FORMAT, format_version=FORMAT_VERSION)
        f.attrs.update(phasetune_version=__version__, created=created or now, modified=now)
        for key, value in root.items():
            f.attrs[key] = canonical_json(value)
        seal_attributes(f)
        phases = f.create_group("phases", track_order=True)
        for name, pvs in groups.items():
            pg = phases.create_group(name, track_order=True)
            for i, pv in enumerate(pvs):
                _write_volume(pg.create_group(f"v{i}"), pv, root["conventions"])

    if not path.parent.is_dir():
        raise ArchiveError(f"directory {path.parent} does not exist", "create it first")
    _commit(path, build)
    return path


def update_archive(path: str | Path, phase_volumes: list[PhaseVolume], metadata: dict) -> Path:
    """Commit the full current state of a campaign to ``path`` (atomic), keeping its ``created``
    timestamp.  Refuses to overwrite an archive of another descriptor spec, reference potential
    or conventions, or a file that is not a phasetune archive."""
    path = Path(path)
    created = None
    if path.exists():
        old = read_archive(path, verify=False, metadata_only=True).metadata
        new = root_metadata(metadata, phase_volumes)
        problems = compatibility_problems(old, new)
        if problems:
            raise ArchiveError(
                f"{path} holds a different campaign ({'; '.join(problems)})",
                "write to another path, or merge archives with `phasetune merge`",
            )
        created = old.get("created")
    return write_archive(path, phase_volumes, metadata, created=created)


# ------------------------------------------------------------------------------------- reading
def _read_root(f: h5py.File, path: Path) -> dict:
    fmt, version = f.attrs.get("format"), f.attrs.get("format_version")
    if fmt != FORMAT or version is None or int(version) < 1:
        raise ArchiveError(
            f"{path} is not a phasetune D-DOS archive (format={fmt!r})",
            "legacy DescriptorDOS pickles must be converted with phasetune.legacy first",
        )
    if int(version) > FORMAT_VERSION:
        raise ArchiveError(
            f"{path} has format_version {int(version)}, newer than this phasetune supports "
            f"({FORMAT_VERSION})",
            "upgrade phasetune",
        )
    meta: dict = {"format": FORMAT, "format_version": int(version)}
    for key in ("phasetune_version", "created", "modified"):
        meta[key] = str(f.attrs.get(key, ""))
    for key in JSON_ATTRS:
        if key in f.attrs:
            meta[key] = json.loads(f.attrs[key])
    return meta


def corrupted_objects(f: h5py.File) -> list[str]:
    """Names of datasets whose checksum does not match (or that cannot be read), and of groups
    whose attributes changed (suffix `` (attributes)``)."""
    bad: list[str] = []

    def check(name: str, obj: h5py.HLObject) -> None:
        try:
            if ATTRS_CHECKSUM in obj.attrs and obj.attrs[ATTRS_CHECKSUM] != attributes_digest(obj):
                bad.append(f"{obj.name} (attributes)")
            if isinstance(obj, h5py.Dataset):
                if obj.attrs.get(CHECKSUM) != checksum(np.asarray(obj[()])):
                    bad.append(obj.name)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError):
            bad.append(f"{obj.name} (unreadable)")

    check("/", f)
    try:
        f.visititems(check)
    except RuntimeError as exc:  # damaged HDF5 metadata: the object tree cannot be walked
        raise ArchiveError(f"{f.filename}: the HDF5 metadata is damaged ({exc})",
                           "the file cannot be salvaged; restore it from a backup or re-run "
                           "the campaign (finished chunks in the spool are kept)") from exc
    return bad


def _damage_report(f: h5py.File, bad: list[str]) -> str:
    lines = []
    for pg in f.get("phases", {}).values():
        for vg in pg.values():
            keys = sorted(vg.get("shells", {}), key=int)
            lost = [k for k in keys if any(_is_under(b, f"{vg.name}/shells/{k}") for b in bad)]
            ref_ok = not any(
                _is_under(b, vg.name) and not _is_under(b, f"{vg.name}/shells") for b in bad
            )
            intact = [k for k in keys if k not in lost]
            lines.append(
                f"{vg.name[len('/phases/') :]}: reference {'intact' if ref_ok else 'CORRUPTED'}, "
                f"shells intact {intact}" + (f", lost {lost}" if lost else "")
            )
    return "; ".join(lines)


def read_archive(
    path: str | Path, *, verify: bool = True, salvage: bool = False, metadata_only: bool = False
) -> Archive:
    """Load an archive.

    Args:
        verify: check every checksum; any mismatch raises ArchiveError naming the corrupted
            datasets and what is still intact.
        salvage: instead of raising, drop corrupted shells (and volumes whose reference is
            corrupted) and record what was dropped in ``metadata["salvaged"]``.
        metadata_only: read only the root attributes (no volumes).

    Raises:
        ArchiveError: missing, truncated or non-HDF5 file, unknown format or newer version,
            checksum mismatch.
    """
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"archive {path} not found", "check the path")
    try:
        with h5py.File(path, "r") as f:
            meta = _read_root(f, path)
            if metadata_only:
                return Archive(meta, [], path)
            bad = corrupted_objects(f) if (verify or salvage) else []
            if bad and not salvage:
                raise ArchiveError(
                    f"{path}: {len(bad)} corrupted object(s): {', '.join(bad)}. "
                    f"Recoverable: {_damage_report(f, bad)}",
                    "`phasetune info --salvage ARCHIVE` (API: read_archive(path, salvage=True)) "
                    "loads the intact shells; re-sample the lost ones or restore a backup",
                )
            if bad:
                report = {"dropped": bad, "report": _damage_report(f, bad)}
                meta["provenance"] = {**meta.get("provenance", {}), "salvaged": report}
            info = descriptor_info(meta["descriptor"]) if "phases" in f else None
            pvs = [
                pv
                for pg in f.get("phases", {}).values()
                for key in sorted(pg, key=lambda k: int(k[1:]))
                if (pv := _read_volume(pg[key], info, bad)) is not None
            ]
    except (ArchiveError, PhasetuneError):
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ArchiveError(
            f"cannot read archive {path}: {str(exc).splitlines()[0] if str(exc) else exc!r}",
            "the file is truncated, not HDF5 or damaged; restore it from a backup",
        ) from exc
    return Archive(meta, pvs, path)


def _read_volume(vg: h5py.Group, info: DescriptorInfo, bad: list[str]) -> PhaseVolume | None:
    if any(_is_under(b, vg.name) and not _is_under(b, f"{vg.name}/shells") for b in bad):
        return None
    phase = str(vg.attrs.get("phase", vg.parent.name.rsplit("/", 1)[-1]))
    ref = _load(HarmonicReference, vg, REFERENCE_PATHS, phase=phase)
    shells = [
        _load(ShellStats, sg, {})
        for k, sg in sorted(vg.get("shells", {}).items(), key=lambda kv: int(kv[0]))
        if not any(_is_under(b, sg.name) for b in bad)
    ]
    descriptors = DescriptorInfo(info.kind, dict(info.params), list(info.labels), info.fixed.copy())
    provenance = json.loads(vg.attrs.get("provenance", "{}"))
    return PhaseVolume(
        ref, shells, descriptors, str(vg.attrs.get("flavour", "hessian")), provenance
    )
