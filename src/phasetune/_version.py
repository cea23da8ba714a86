"""The package version, importable without loading LAMMPS or MPI."""

__version__ = "0.1.0"
