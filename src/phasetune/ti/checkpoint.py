"""Resumable repeats: a JSON checkpoint of finished (method, T, repeat) records.

The file holds a fingerprint of everything that determines the MD (structure, potential, harmonic
reference, settings, seed) and the finished :class:`~phasetune.ti.result.RepeatRecord` s.  It is
rewritten atomically (temporary file + rename) after every repeat, so an interrupted run loses at
most the repeat in progress; rerunning with the same checkpoint skips finished repeats.  Seeds
derive from (seed, method, T, repeat), so resumed and uninterrupted runs are identical.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from ..atomic import write_bytes
from ..errors import PhasetuneError
from ..jsonutil import dumps_exact
from .result import RepeatRecord

FORMAT = "phasetune-ti-checkpoint"
VERSION = 1


def fingerprint(spec: dict) -> str:
    """SHA-256 of a JSON-serialisable description of the run."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()


def record_key(method: str, temperature: float, repeat: int) -> str:
    return f"{method}|T={float(temperature):.6f}|repeat={int(repeat)}"


class Checkpoint:
    """Finished repeats of one run, optionally backed by a JSON file.

    Args:
        path: checkpoint file (created on first write), or None to keep records in memory.
        spec: description of the run; a file written for another spec is refused.
    """

    def __init__(self, path: str | Path | None, spec: dict):
        self.path = Path(path) if path is not None else None
        self.fingerprint = fingerprint(spec)
        self.spec = spec
        self.records: dict[str, RepeatRecord] = {}
        if self.path is not None and self.path.exists():
            self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise PhasetuneError(f"cannot read TI checkpoint {self.path}: {exc}",
                                 "delete it to start afresh") from exc
        if data.get("format") != FORMAT or data.get("version") != VERSION:
            raise PhasetuneError(f"{self.path} is not a phasetune TI checkpoint (version "
                                 f"{VERSION})", "choose another --checkpoint path")
        if data.get("fingerprint") != self.fingerprint:
            raise PhasetuneError(
                f"checkpoint {self.path} belongs to a different run (structure, potential, "
                "reference, settings or seed differ)",
                "rerun with the original settings, or choose another --checkpoint path")
        self.records = {k: RepeatRecord.from_dict(v) for k, v in data["records"].items()}

    def get(self, method: str, temperature: float, repeat: int) -> RepeatRecord | None:
        return self.records.get(record_key(method, temperature, repeat))

    def put(self, record: RepeatRecord) -> None:
        """Store a finished repeat and rewrite the file atomically."""
        self.records[record_key(record.method, record.temperature, record.repeat)] = record
        if self.path is None:
            return
        payload = {"format": FORMAT, "version": VERSION, "fingerprint": self.fingerprint,
                   "spec": self.spec,
                   "records": {k: r.to_dict() for k, r in sorted(self.records.items())}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(self.path, dumps_exact(payload, indent=1).encode())


STAGES_FORMAT = "phasetune-ti-pressure-checkpoint"


class StageStore:
    """Finished stages (NPT volumes, sweeps) of a constant-pressure run, as JSON dicts.

    Same contract as :class:`Checkpoint`: a fingerprint of the run's description guards the
    file, which is rewritten atomically after every stage.

    Args:
        path: the file (created on first write), or None to keep stages in memory.
        spec: description of the run; a file written for another spec is refused.
    """

    def __init__(self, path: str | Path | None, spec: dict):
        self.path = Path(path) if path is not None else None
        self.spec = spec
        self.fingerprint = fingerprint(spec)
        self.stages: dict[str, dict] = {}
        if self.path is not None and self.path.exists():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                raise PhasetuneError(f"cannot read checkpoint {self.path}: {exc}",
                                     "delete it to start afresh") from exc
            if data.get("format") != STAGES_FORMAT:
                raise PhasetuneError(f"{self.path} is not a phasetune constant-pressure "
                                     "checkpoint", "choose another --checkpoint path")
            if data.get("fingerprint") != self.fingerprint:
                raise PhasetuneError(
                    f"checkpoint {self.path} belongs to a different run (structure, potential, "
                    "pressure, settings or seed differ)",
                    "rerun with the original settings, or choose another --checkpoint path")
            self.stages = data["stages"]

    def sibling(self, tag: str) -> Path | None:
        """A companion file for one stage's own checkpoint (e.g. the TI at one temperature)."""
        if self.path is None:
            return None
        return self.path.with_name(f"{self.path.stem}.{tag}{self.path.suffix or '.json'}")

    def get(self, key: str) -> dict | None:
        return self.stages.get(key)

    def put(self, key: str, value: dict) -> None:
        """Store a finished stage and rewrite the file atomically."""
        self.stages[key] = value
        if self.path is None:
            return
        payload = {"format": STAGES_FORMAT, "version": VERSION, "fingerprint": self.fingerprint,
                   "spec": self.spec, "stages": self.stages}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_bytes(self.path, dumps_exact(payload, indent=1).encode())
