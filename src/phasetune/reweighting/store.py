"""The HDF5 frame store of the reweighting route: frames of θ0 with their per-atom descriptors.

Layout (every dataset carries a ``sha256`` attribute over dtype + shape + bytes, every group a
``attrs_sha256`` over its attributes, as in :mod:`phasetune.archive.hdf5`)::

    /          attrs: format, format_version, phasetune_version, created, modified,
               metadata (JSON: potential, theta0, temperature, pressure, ensemble, structure,
               n_atoms, seed, stride, equilibration, steps, descriptor, settings)
    /frames/   descriptors (F, N, K) per-atom B; energy (F,) U0 eV total; volume (F,) Å³ of
               the box; cell (F, 3, 3) Å; positions (F, N, 3) Å; step (F,)
    /state/    (only while sampling) positions, velocities, cell, step, chunk: where an
               interrupted run resumes

Every write rebuilds the file in memory and atomically replaces the target
(:func:`~phasetune.archive.hdf5.hdf5_image` + :func:`~phasetune.atomic.write_bytes`): an
interrupted write leaves the previous file intact.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from .._version import __version__
from ..archive.hdf5 import corrupted_objects, hdf5_image, seal_attributes
from ..archive.schema import canonical_json, checksum, now_iso
from ..atomic import write_bytes
from ..errors import ArchiveError

FORMAT = "phasetune-reweighting-frames"
FORMAT_VERSION = 1
FRAME_FIELDS = ("descriptors", "energy", "volume", "cell", "positions", "step")
STATE_FIELDS = ("positions", "velocities", "cell", "step", "chunk")


@dataclass
class FrameStore:
    """Frames of one MD run at θ0 (module doc for units and shapes).

    Attributes:
        metadata: run description (JSON-serialisable).
        descriptors: (F, N, K) per-atom descriptors.
        energy: (F,) potential energy U0, eV (total).
        volume: (F,) box volume, Å³.
        cell: (F, 3, 3) cell, Å.
        positions: (F, N, 3) positions, Å.
        step: (F,) MD step of each frame.
        state: the resume state (positions, velocities, cell, step, chunk), or None when done.
        path: the file, when read from or written to one.
    """

    metadata: dict
    descriptors: np.ndarray
    energy: np.ndarray
    volume: np.ndarray
    cell: np.ndarray
    positions: np.ndarray
    step: np.ndarray
    state: dict | None = None
    path: Path | None = None
    created: str | None = field(default=None, repr=False)

    @classmethod
    def empty(cls, metadata: dict, n_atoms: int, n_descriptors: int) -> FrameStore:
        return cls(metadata, np.empty((0, n_atoms, n_descriptors)), np.empty(0), np.empty(0),
                   np.empty((0, 3, 3)), np.empty((0, n_atoms, 3)), np.empty(0, dtype=np.int64))

    @property
    def n_frames(self) -> int:
        return len(self.energy)

    @property
    def n_atoms(self) -> int:
        return int(self.metadata["n_atoms"])

    @property
    def temperature(self) -> float:
        """K."""
        return float(self.metadata["temperature"])

    @property
    def theta0(self) -> np.ndarray:
        """(P,) the parameters the frames were sampled with."""
        return np.asarray(self.metadata["theta0"], dtype=float)

    @property
    def ensemble(self) -> str:
        return str(self.metadata["ensemble"])

    @property
    def complete(self) -> bool:
        """All requested frames are stored (no resume state left)."""
        return self.state is None

    def append(self, descriptors: np.ndarray, energy: np.ndarray, volume: np.ndarray,
               cell: np.ndarray, positions: np.ndarray, step: np.ndarray) -> None:
        """Add frames (each argument with a leading frame axis)."""
        for name, new in zip(FRAME_FIELDS, (descriptors, energy, volume, cell, positions, step),
                             strict=True):
            setattr(self, name, np.concatenate([getattr(self, name), np.asarray(new)]))


def write_frames(path: str | Path, store: FrameStore) -> Path:
    """Atomically write ``store`` to ``path`` (its directory must exist)."""
    path = Path(path)
    if not path.parent.is_dir():
        raise ArchiveError(f"directory {path.parent} does not exist", "create it first")
    now = now_iso()

    def put(group: h5py.Group, name: str, value: np.ndarray) -> None:
        arr = np.array(value, order="C")
        big = {"compression": "gzip", "shuffle": True} if arr.size > 4096 else {}
        ds = group.create_dataset(name, data=arr, **big)
        ds.attrs["sha256"] = checksum(arr)

    def build(f: h5py.File) -> None:
        f.attrs.update(format=FORMAT, format_version=FORMAT_VERSION,
                       phasetune_version=__version__, created=store.created or now,
                       modified=now, metadata=canonical_json(store.metadata))
        seal_attributes(f)
        frames = f.create_group("frames")
        for name in FRAME_FIELDS:
            value = getattr(store, name)
            put(frames, name, np.asarray(value, dtype=np.int64 if name == "step" else float))
        if store.state is not None:
            state = f.create_group("state")
            for name in STATE_FIELDS:
                put(state, name, np.asarray(store.state[name]))

    write_bytes(path, hdf5_image(build))
    store.path, store.created = path, store.created or now
    return path


def read_frames(path: str | Path, *, verify: bool = True) -> FrameStore:
    """Load a frame store; every checksum is verified unless ``verify`` is False.

    Raises:
        ArchiveError: missing, foreign, newer, truncated or corrupted file (naming the damaged
            objects).
    """
    path = Path(path)
    if not path.is_file():
        raise ArchiveError(f"frame store {path} not found", "check the path")
    try:
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            if fmt != FORMAT:
                raise ArchiveError(f"{path} is not a phasetune reweighting frame store "
                                   f"(format={fmt!r})",
                                   "give a file written by `phasetune reweight sample`")
            version = int(f.attrs.get("format_version", 0))
            if version > FORMAT_VERSION:
                raise ArchiveError(f"{path} has format_version {version}, newer than this "
                                   f"phasetune supports ({FORMAT_VERSION})", "upgrade phasetune")
            if verify:
                bad = corrupted_objects(f)
                if bad:
                    raise ArchiveError(f"{path}: {len(bad)} corrupted object(s): "
                                       f"{', '.join(bad)}",
                                       "restore the file from a backup or sample the frames "
                                       "again")
            metadata = json.loads(f.attrs["metadata"])
            frames = {name: np.asarray(f["frames"][name][()]) for name in FRAME_FIELDS}
            state = None
            if "state" in f:
                state = {name: np.asarray(f["state"][name][()]) for name in STATE_FIELDS}
            created = str(f.attrs.get("created", ""))
    except ArchiveError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
        raise ArchiveError(f"cannot read frame store {path}: "
                           f"{str(exc).splitlines()[0] if str(exc) else exc!r}",
                           "the file is truncated, not HDF5 or damaged; sample the frames "
                           "again") from exc
    return FrameStore(metadata, **frames, state=state, path=path, created=created)
