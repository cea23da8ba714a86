"""One campaign run per archive: an OS file lock on ``<archive>.lock``.

:func:`campaign_lock` holds ``fcntl.flock(LOCK_EX)`` on ``<archive>.lock`` (beside the archive)
for the whole run.  The kernel releases the lock when the holder exits in any way (return,
exception, ``kill -9``, crash), so a lock is never stale: a leftover file without a live holder
is simply locked again.  The file records the holder (PID, host, start time) for the error that
a second run gets at once.  On a normal exit the file is removed while still locked; a run that
opened the removed file checks the inode after locking and retries on the new file.

``flock`` is local to one host on most network file systems: two hosts sampling into one
archive on NFS are not excluded by it.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import PhasetuneError

ATTEMPTS = 5
"""Re-opens when the lock file was replaced between open and lock."""


class CampaignLockedError(PhasetuneError):
    """Another process is running a campaign into the same archive."""


def lock_path(archive: str | Path) -> Path:
    """``<archive>.lock``, e.g. ``out/mo.h5.lock``."""
    archive = Path(archive)
    return archive.with_name(archive.name + ".lock")


def read_holder(path: str | Path) -> dict:
    """What the lock file says about its holder (``pid``, ``host``, ``started``), or {}."""
    try:
        data = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _busy(archive: Path, path: Path) -> CampaignLockedError:
    holder = read_holder(path)
    pid, host = holder.get("pid", "?"), holder.get("host", "?")
    since = f", since {holder['started']}" if holder.get("started") else ""
    return CampaignLockedError(
        f"{archive} is in use by another campaign run (PID {pid} on host {host}{since}; "
        f"lock {path})",
        f"wait until it finishes, or stop it (kill {pid} on {host}) and re-run to resume; "
        "the lock dies with its process, so no file needs deleting")


def _acquire(archive: Path, path: Path) -> int:
    """An open descriptor of ``path`` holding LOCK_EX (raises if another process holds it)."""
    for _ in range(ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(archive, path) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the previous holder removed the file after we opened it: retry
    raise _busy(archive, path)


@contextmanager
def campaign_lock(archive: str | Path) -> Iterator[Path]:
    """Hold the campaign lock of ``archive`` for the ``with`` block; yields the lock path.

    Raises:
        CampaignLockedError: another live process holds it (message: its PID and host).
    """
    archive = Path(archive)
    path = lock_path(archive)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire(archive, path)
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "archive": str(archive)}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
        os.fsync(fd)
        yield path
    finally:
        try:
            path.unlink()  # still locked: nobody can hold this inode now
        except FileNotFoundError:
            pass
        os.close(fd)  # releases the lock
