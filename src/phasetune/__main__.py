"""``python -m phasetune`` (used by ``mpiexec … python -m mpi4py.futures -m phasetune``)."""

from phasetune.cli.main import main

if __name__ == "__main__":
    main()
