"""The one way phasetune writes a file: build it beside the target, then swap it in atomically.

:func:`atomic_write` yields a temporary path in the target's directory.  When the block finishes,
the file is flushed to disk (fsync), given the target's permissions (an existing file's mode, else
the usual ``0o666 & ~umask``) and renamed onto the target with ``os.replace``; the directory entry
is then synced.  On any failure, including KeyboardInterrupt, the temporary file is removed and the
previous file at the target stays as it was.  A process killed mid-write leaves at most a
``.<name>.<random>.tmp`` file, which :func:`remove_stale` clears.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import StorageError

TMP_SUFFIX = ".tmp"

_HINTS = {
    errno.ENOSPC: "free disk space, or write to another folder",
    errno.EDQUOT: "free space within your quota, or write to another folder",
    errno.EFBIG: "the file-size limit (ulimit -f) is too small; raise it",
    errno.EROFS: "the file system is read-only; write to another folder",
    errno.EACCES: "make the folder writable, or write to another folder",
    errno.EPERM: "make the folder and file writable (chattr -i?), or write to another folder",
}


def storage_error(path: Path, exc: OSError) -> StorageError:
    """A one-line :class:`StorageError` for an OS error while writing ``path``."""
    reason = exc.strerror or str(exc)
    return StorageError(f"cannot write {path}: {reason}; the previous file (if any) is intact",
                        _HINTS.get(exc.errno, "check the folder's permissions and free space"))


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (os.O_DIRECTORY if directory else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path: str | Path, *, sync: bool = True) -> Iterator[Path]:
    """Write ``path`` atomically: yields the temporary path to write to.

    Args:
        path: the target file; its directory must exist.
        sync: fsync the file and its directory (off only for caches whose loss is harmless).

    Example::

        with atomic_write(target) as tmp:
            tmp.write_text(text)
    """
    path = Path(path)
    try:
        mode = (path.stat().st_mode & 0o777) if path.exists() else _default_mode()
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise storage_error(path, exc) from exc
    tmp = Path(name)
    try:
        yield tmp
        if sync:
            _fsync_path(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError) and exc.errno in _HINTS:
            raise storage_error(path, exc) from exc
        raise
    if sync:
        with contextlib.suppress(OSError):
            _fsync_path(path.parent, directory=True)


def write_bytes(path: str | Path, data: bytes, *, sync: bool = True) -> Path:
    """Atomically replace ``path`` with ``data``."""
    with atomic_write(path, sync=sync) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def remove_stale(directory: str | Path, name: str = "*") -> list[Path]:
    """Remove temporary files that a killed writer of ``directory/name`` left behind."""
    removed = []
    for tmp in Path(directory).glob(f".{name}.*{TMP_SUFFIX}"):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed.append(tmp)
    return removed
