"""Score fits stored beside an archive: ``NAME.fit.h5`` (method.md §6).

One dataset per (phase, volume) holds the fit as JSON (``nonfinite="keep"``), with a ``sha256``
attribute over its bytes; the root carries ``format`` and ``fit_version``.  This module only stores
and verifies: what a fit is, and when it is stale, is the estimator's business
(:mod:`phasetune.estimator.store`).  Every write replaces the whole file atomically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..atomic import write_bytes
from ..jsonutil import dumps_exact
from .hdf5 import hdf5_image

FIT_FORMAT = "phasetune-fit"
CHECKSUM = "sha256"


def fit_path(archive: str | Path) -> Path:
    """``run.h5`` → ``run.fit.h5``."""
    archive = Path(archive)
    return archive.with_name(archive.stem + ".fit.h5")


def fit_key(phase: str, volume_index: int) -> str:
    return f"{phase}/v{volume_index}"


@dataclass
class StoredFit:
    """What the fit file holds for one (phase, volume).

    Attributes:
        data: the fit as JSON text, or None.
        problem: why a present entry cannot be used (checksum mismatch, unreadable file, no
            checksum), or None when it is absent or fine.
    """

    data: str | None
    problem: str | None = None


def _digest(blob: bytes) -> str:
    return hashlib.sha256(blob).hexdigest()


def _entries(path: Path) -> dict[str, tuple[bytes, str | None]]:
    """Every dataset of a fit file as (bytes, stored checksum)."""
    entries: dict[str, tuple[bytes, str | None]] = {}

    def visit(name: str, obj: h5py.HLObject) -> None:
        if isinstance(obj, h5py.Dataset):
            value = obj[()]
            blob = value if isinstance(value, bytes) else np.asarray(value).tobytes()
            checksum = obj.attrs.get(CHECKSUM)
            entries[name] = (blob, None if checksum is None else str(checksum))

    with h5py.File(path, "r") as h5:
        if h5.attrs.get("format") != FIT_FORMAT:
            raise ValueError(f"format {h5.attrs.get('format')!r}")
        h5.visititems(visit)
    return entries


def read_fit(archive: str | Path, phase: str, volume_index: int) -> StoredFit:
    """The stored fit of (phase, volume), verified against its checksum."""
    path = fit_path(archive)
    if not path.exists():
        return StoredFit(None)
    try:
        entries = _entries(path)
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        return StoredFit(None, f"{path} is unreadable ({exc})")
    key = fit_key(phase, volume_index)
    if key not in entries:
        return StoredFit(None)
    blob, checksum = entries[key]
    if checksum is None:
        return StoredFit(None, f"{path}: entry {key} has no checksum (written by an older "
                               "phasetune)")
    if checksum != _digest(blob):
        return StoredFit(None, f"{path}: entry {key} does not match its checksum (edited or "
                               "damaged)")
    return StoredFit(blob.decode())


def write_fit(archive: str | Path, phase: str, volume_index: int, fit: dict,
              version: int) -> Path:
    """Store (or replace) one fit, keeping the other verified entries; atomic.

    Raises:
        StorageError: the folder is not writable (read-only, full).
    """
    path = fit_path(archive)
    entries: dict[str, bytes] = {}
    if path.exists():
        try:
            entries = {k: blob for k, (blob, c) in _entries(path).items() if c == _digest(blob)}
        except (OSError, KeyError, ValueError, TypeError, RuntimeError):
            entries = {}
    entries[fit_key(phase, volume_index)] = dumps_exact(fit).encode()

    def build(h5: h5py.File) -> None:
        h5.attrs["format"] = FIT_FORMAT
        h5.attrs["fit_version"] = version
        for key, blob in entries.items():
            h5[key] = np.bytes_(blob)
            h5[key].attrs[CHECKSUM] = _digest(blob)

    return write_bytes(path, hdf5_image(build))
