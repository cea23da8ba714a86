"""The chunk spool: every finished chunk, written atomically to ``<archive>.chunks/`` as one
``.npz`` the moment it arrives, so that nothing finished is lost when the campaign is killed.

The HDF5 archive is the compressed, merged state; the spool holds finished chunks that are not
(yet) in it.  The runner folds spooled chunks into the archive in chunk order, commits the
archive atomically, then deletes the folded files.  A crash between the two leaves files whose
batch ids are already in the archive: :func:`read_spool` returns them and the accumulators refuse
them as duplicates, so no chunk is ever counted twice.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import remove_stale, write_bytes
from .samplers import SampleBatch
from .tasks import alpha_tag, volume_tag


def spool_dir(archive: Path) -> Path:
    """``<archive>.chunks``: the spool directory next to the archive."""
    return archive.with_name(archive.name + ".chunks")


@dataclass(frozen=True)
class SpooledChunk:
    """A finished chunk read back from the spool."""

    path: Path
    phase: str
    volume: float
    alpha: float
    chunk: int
    batch: SampleBatch


def chunk_path(directory: Path, phase: str, volume: float, alpha: float, chunk: int) -> Path:
    return directory / f"{phase}__V{volume_tag(volume)}__a{alpha_tag(alpha)}__c{chunk:06d}.npz"


def write_chunk(directory: Path, phase: str, volume: float, alpha: float, chunk: int,
                batch: SampleBatch) -> Path:
    """Atomically write one finished chunk (:func:`~phasetune.atomic.write_bytes`)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = chunk_path(directory, phase, volume, alpha, chunk)
    meta = {"phase": phase, "volume": volume, "alpha": alpha, "chunk": chunk,
            "n_unphysical": batch.n_unphysical, "reasons": batch.reasons,
            "diagnostics": batch.diagnostics}
    arrays = {"D": batch.D, "meta": np.array(json.dumps(meta))}
    if batch.energies is not None:
        arrays["energies"] = batch.energies
    if batch.measured_ealpha is not None:
        arrays["measured_ealpha"] = batch.measured_ealpha
    if batch.inv_kinetic is not None:
        arrays["inv_kinetic"] = batch.inv_kinetic
    buffer = io.BytesIO()  # built in memory, written with one call (zip seeks cost syscalls)
    np.savez(buffer, **arrays)
    return write_bytes(path, buffer.getvalue())


def read_spool(directory: Path) -> tuple[list[SpooledChunk], list[str]]:
    """All readable spooled chunks, and a note for each unreadable file (which is removed: its
    chunk simply runs again)."""
    chunks, notes = [], []
    if not directory.is_dir():
        return chunks, notes
    for path in sorted(directory.glob("*.npz")):
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                batch = SampleBatch(
                    D=np.array(data["D"]),
                    energies=np.array(data["energies"]) if "energies" in data else None,
                    measured_ealpha=(np.array(data["measured_ealpha"])
                                     if "measured_ealpha" in data else None),
                    n_unphysical=int(meta["n_unphysical"]),
                    reasons=list(meta["reasons"]),
                    diagnostics=dict(meta["diagnostics"]),
                    inv_kinetic=(np.array(data["inv_kinetic"])
                                 if "inv_kinetic" in data else None),
                )
            chunks.append(SpooledChunk(path, meta["phase"], float(meta["volume"]),
                                       float(meta["alpha"]), int(meta["chunk"]), batch))
        except Exception as exc:  # a damaged spool file is re-sampled, never trusted
            notes.append(f"spooled chunk {path.name} is unreadable ({exc}); it will be re-run")
            with contextlib.suppress(OSError):
                path.unlink()
    remove_stale(directory)  # left by a kill during a write
    return chunks, notes


def remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink()


def remove_dir_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):
        directory.rmdir()


def any_files(directory: Path) -> bool:
    return directory.is_dir() and any(directory.iterdir())
