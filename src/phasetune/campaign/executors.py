"""Executors that run campaign chunks: any ``concurrent.futures.Executor`` works.

* ``local`` — a ``ProcessPoolExecutor`` with the ``spawn`` start method (safe with LAMMPS), one
  LAMMPS per worker, ``OMP_NUM_THREADS=1``; with one worker the chunks run in this process.
* ``mpi`` — ``mpi4py.futures.MPIPoolExecutor``: run as
  ``mpiexec -n N python -m mpi4py.futures -m phasetune sample CAMPAIGN.yaml --executor mpi``.
* ``dask`` — ``distributed.Client(scheduler).get_executor(pure=False)``, or a local cluster of
  ``workers`` single-threaded processes when no scheduler address is given.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor

from ..cores import available_cores
from ..errors import ConfigError
from .tasks import init_worker

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def single_threaded_children() -> Iterator[None]:
    """Set the thread variables to 1 while worker processes are spawned (they inherit them)."""
    saved = {v: os.environ.get(v) for v in THREAD_VARS}
    os.environ.update({v: "1" for v in THREAD_VARS})
    try:
        yield
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def local_pool(workers: int) -> ProcessPoolExecutor:
    """A spawn-context process pool whose workers are single-threaded and die with the parent."""
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=init_worker, initargs=(os.getpid(),))


def _import_mpi():
    try:
        from mpi4py.futures import MPIPoolExecutor
    except ImportError as exc:
        raise ConfigError("executor mpi needs mpi4py, which is not installed",
                          "pip install 'phasetune[mpi]' (mpi4py), then run "
                          "mpiexec -n N python -m mpi4py.futures -m phasetune sample …") from exc
    return MPIPoolExecutor


def _import_dask():
    try:
        from distributed import Client
    except ImportError as exc:
        raise ConfigError("executor dask needs dask.distributed, which is not installed",
                          "pip install 'phasetune[dask]'") from exc
    return Client


def mpi_pool(workers: int | None) -> Executor:
    kwargs = {"max_workers": workers} if workers else {}
    return _import_mpi()(initializer=init_worker, **kwargs)


def dask_pool(workers: int | None, scheduler: str | None) -> tuple[Executor, object]:
    """(executor, client); close the client when done."""
    Client = _import_dask()  # noqa: N806
    if scheduler:
        client = Client(scheduler)
    else:
        client = Client(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                        processes=True)
    return client.get_executor(pure=False), client


def worker_count(executor: Executor, workers: int | None) -> int:
    """Workers of an executor (for the submission window)."""
    if workers:
        return workers
    for attr in ("_max_workers", "num_workers"):
        value = getattr(executor, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    return available_cores()


class ExecutorFactory:
    """Creates (and re-creates after a crash) the executor of a campaign run.

    Args:
        kind: ``local``, ``mpi`` or ``dask``.
        workers: number of workers (None: all cores for local/dask, the MPI world for mpi).
        scheduler: Dask scheduler address.
    """

    def __init__(self, kind: str, workers: int | None, scheduler: str | None = None):
        if kind not in ("local", "mpi", "dask"):
            raise ConfigError(f"executor: {kind!r} is not allowed; allowed values: "
                              "'local', 'mpi', 'dask'")
        self.kind, self.scheduler = kind, scheduler
        self.workers = workers or (available_cores() if kind == "local" else None)
        self._client = None
        self._env: contextlib.ExitStack | None = None

    def require(self) -> None:
        """Fail early (before any reference is built) if the executor's package is missing."""
        if self.kind == "mpi":
            _import_mpi()
        elif self.kind == "dask":
            _import_dask()

    @property
    def in_process(self) -> bool:
        """One local worker: run chunks in this process (no pool; identical results)."""
        return self.kind == "local" and self.workers == 1

    def create(self) -> Executor:
        if self.kind == "local":
            if self._env is None:
                self._env = contextlib.ExitStack()
                self._env.enter_context(single_threaded_children())
            return local_pool(self.workers)
        if self.kind == "mpi":
            return mpi_pool(self.workers)
        executor, self._client = dask_pool(self.workers, self.scheduler)
        return executor

    def close(self, executor: Executor | None, wait: bool = True) -> None:
        if executor is not None:
            try:
                executor.shutdown(wait=wait, cancel_futures=True)
            except TypeError:  # executors without cancel_futures (Dask)
                with contextlib.suppress(Exception):
                    executor.shutdown(wait=wait)
            except Exception:  # pragma: no cover - a broken pool may fail to shut down
                pass
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None
        if self._env is not None:
            self._env.close()
            self._env = None
