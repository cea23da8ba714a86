"""Records kept beside an archive as JSON (``<archive>.<kind>.json``): per phase, per key, one
entry — the basin scans of ``phasetune basin`` and the TI anchors of ``phasetune anchor``.

A record carries its ``format`` name and ``version``; an unreadable or foreign file is an
:class:`~phasetune.errors.ArchiveError` naming the command that rewrites it.  Writes are atomic.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write
from ..errors import ArchiveError


def sidecar_path(archive: str | Path, kind: str) -> Path:
    """``<archive>.<kind>.json``."""
    return Path(f"{archive}.{kind}.json")


def read_sidecar(path: Path, fmt: str, version: int, rebuild: str) -> dict:
    """{phase: {key: entry}} of a record ({} if there is none); ``rebuild`` is the fix to name."""
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{path}: not a readable {fmt} record ({exc})",
                           f"delete it and {rebuild}") from exc
    if data.get("format") != fmt or data.get("version") != version:
        raise ArchiveError(f"{path}: not a {fmt} v{version} file", f"delete it and {rebuild}")
    return data["phases"]


def write_sidecar(path: Path, fmt: str, version: int, phases: dict) -> Path:
    """Replace the record with ``phases``, atomically."""
    with atomic_write(path) as tmp:
        tmp.write_text(json.dumps({"format": fmt, "version": version, "phases": phases},
                                  indent=1, ensure_ascii=False))
    return path
