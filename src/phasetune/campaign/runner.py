"""Run a sampling campaign: parallel, deterministic, resumable (docs/campaign.md).

Design:

* **Tasks** are (phase, volume, shell, chunk) with seeds derived per chunk; only chunks neither in
  the archive nor in the spool are submitted, through a bounded window of in-flight futures.
* **Durability.** Each finished chunk is written atomically to the spool ``<archive>.chunks/``
  as soon as it arrives.  Every ``commit_interval`` seconds and at the end the merged state is
  committed to the HDF5 archive (atomic replace) and the folded spool files are deleted.  A
  ``kill -9`` loses only chunks that were still running; re-running the same command resumes.
* **Determinism.** Chunks are merged into each shell in chunk order (late arrivals wait), so 1 and
  N workers give identical statistics.
* **Faults.** A failed chunk is retried once, then reported (phase, volume, isosurface, seed,
  message) while the campaign continues; chunks after it stay spooled until it succeeds.  A
  crashed local pool is re-created.
"""

from __future__ import annotations

import platform
import socket
import sys
import tempfile
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, Future, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .._version import __version__
from ..archive.hdf5 import read_archive, write_archive
from ..archive.schema import Archive, compatibility_problems, descriptor_spec
from ..archive.stats import ALPHA_TOL
from ..conventions import BULK_MODES_PER_ATOM
from ..engine.mpi import require_lammps
from ..errors import ArchiveError, PhasetuneError
from . import spool
from .executors import ExecutorFactory, worker_count
from .isosurfaces import GRID_CONVENTIONS
from .lock import campaign_lock
from .progress import CampaignProgress, campaign_logger
from .spec import CampaignSpec, reference_potential
from .spec import descriptor_spec as campaign_descriptors
from .state import build_groups, pair_form
from .tasks import ChunkResult, ChunkTask, run_chunk, volume_tag, warm_up
from .volume_grid import resolve_volume_grids

MAX_POOL_RESTARTS = 3
"""A local pool whose workers keep dying is abandoned after this many restarts."""


@dataclass
class ChunkFailure:
    """A chunk that failed twice."""

    phase: str
    volume: float
    isosurface: int
    alpha: float
    T_alpha: float
    chunk: int
    seed: list[int]
    message: str


@dataclass
class CampaignResult:
    """Outcome of :func:`run_campaign`.

    Attributes:
        complete: every requested chunk of every shell is merged and committed.
        samples_run: samples drawn in this run (including unphysical ones).
        chunks_run / chunks_skipped: chunks sampled now / found already done.
        failures: chunks that failed twice.
        unphysical: per shell with rejected samples: phase, volume, α, count, examples.
        warnings: grid-coverage and other warnings.
        wall_time: seconds.
        rates: ``overall`` samples per wall-clock second of the sampling; per phase, samples
            per worker CPU-second (one worker's throughput, insensitive to other load).
        volume_grids: per phase with generated ``volumes:``, the record of its grid (volumes
            Å³/atom, equation of state; see :mod:`.volume_grid`).
        extended_to: per phase whose shell grid is extended beyond ``isosurfaces.temperatures``
            (``sample --t-max``), the temperature it is extended to, K (recorded in the archive).
    """

    archive: Path
    log_file: Path
    complete: bool
    samples_run: int
    chunks_run: int
    chunks_skipped: int
    failures: list[ChunkFailure] = field(default_factory=list)
    unphysical: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    wall_time: float = 0.0
    rates: dict[str, float] = field(default_factory=dict)
    volume_grids: dict[str, dict] = field(default_factory=dict)
    extended_to: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["archive"], out["log_file"] = str(self.archive), str(self.log_file)
        return out


class _Run:
    """One execution of a campaign (state shared by the loop, the commits and the report)."""

    def __init__(self, spec: CampaignSpec, quiet: bool, progress: bool,
                 t_max: dict[str, float] | None = None):
        self.spec = spec
        self.path = spec.archive_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.spool = spool.spool_dir(self.path)
        self.log_file = self.path.with_suffix(".log")
        self.log = campaign_logger(self.log_file, quiet)
        self.started = time.time()
        self.archive = self._open_archive()
        frozen = self.archive.metadata.get("sampler", {}).get("volume_grids", {}) \
            if self.archive else {}
        self.spec, self.volume_grids = resolve_volume_grids(spec, frozen, self.log)
        self.frozen_grids = frozen
        spec = self.spec
        self.extended_to = extensions(self.archive, spec, t_max)
        for name, t in sorted(self.active_extensions().items()):
            self.log.info("phase %s: shells extended to %g K (sample --t-max; recorded in the "
                          "archive)", name, t)
        self.groups = build_groups(spec, self.archive,
                                   progress=lambda w: self.log.info("reference lattice: %s", w),
                                   extended_to=self.extended_to)
        self.by_key = {g.key: g for g in self.groups}
        self.metadata = self._metadata()
        self._check_compatible()
        self.failures: list[ChunkFailure] = []
        self.samples_run = self.chunks_run = 0
        self.worker_cpu = 0.0
        self.last_commit = time.time()
        self.progress = CampaignProgress(enabled=progress and not quiet)

    # -- set-up ---------------------------------------------------------------------------------
    def active_extensions(self) -> dict[str, float]:
        """The extensions that add shells: phases of the spec extended beyond T_hi."""
        names, t_hi = {p.name for p in self.spec.phases}, self.spec.isosurfaces.temperatures[1]
        return {n: t for n, t in self.extended_to.items() if n in names and t > t_hi}

    def _open_archive(self) -> Archive | None:
        if not self.path.exists():
            return None
        try:
            return read_archive(self.path)  # verifies every checksum
        except ArchiveError as exc:
            self.log.error("archive %s: %s", self.path, exc)
            raise

    def _metadata(self) -> dict:
        spec, ref = self.spec, reference_potential(self.spec)
        dspec = campaign_descriptors(spec)
        with tempfile.TemporaryDirectory() as workdir:
            ref_desc = pair_form(ref, workdir).describe()
        info = self.groups[0].descriptors
        old = self.archive.metadata.get("provenance", {}) if self.archive else {}
        previous = list(old.get("runs", [])) + ([old["this_run"]] if "this_run" in old else [])
        sampler = {"flavour": spec.flavour, "seed": spec.seed,
                   "isosurfaces": spec.isosurfaces.model_dump(mode="json"),
                   "samples": spec.samples.model_dump(mode="json"),
                   "min_distance": spec.min_distance, "reference_energy": spec.reference_energy,
                   "hessian_step": spec.hessian_step, "store_raw": spec.store_raw,
                   "volume_grids": {**self.frozen_grids, **self.volume_grids},
                   "extended_to": dict(sorted(self.extended_to.items())),
                   "shell_label": ("e^alpha = |y|^2/N on the harmonic shell, Angstrom^2/atom"
                                   if spec.flavour == "hessian" else
                                   "epsilon = omega_bar e^alpha, total energy per atom above "
                                   "E0_ref (eV/atom); last component K/N is fixed")}
        if spec.flavour == "kinetic":
            sampler["kinetic"] = spec.kinetic.model_dump()
            sampler["shell_measure"] = ("s_ref from the shells' <1/K> (inv_kinetic, "
                                        "method.md §4.5)")
        return {
            "conventions": {"modes": "3N", "statistics": "classical", "per_atom": True,
                            "alpha_grid_r": BULK_MODES_PER_ATOM,
                            "alpha_grid": "alpha_H(T) = ln(r k_B T / omega_bar)"},
            "sampler": sampler,
            "reference_potential": ref_desc,
            "descriptor": {**descriptor_spec(info), "spec": dspec.as_dict(),
                           "sha256": dspec.sha256},
            "provenance": {"phasetune_version": __version__,
                           "lammps_version": str(getattr(require_lammps(), "__version__", "")),
                           "python": platform.python_version(), "runs": previous,
                           "this_run": {"host": socket.gethostname(),
                                        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                        "argv": sys.argv}},
        }

    def _check_compatible(self) -> None:
        if self.archive is None:
            return
        problems = compatibility_problems(self.archive.metadata, self.metadata)
        if problems:
            raise ArchiveError(f"{self.path} holds another campaign ({'; '.join(problems)})",
                               "choose another archive path, or restore the original "
                               "reference potential and descriptors")

    # -- resume ---------------------------------------------------------------------------------
    def resume_spool(self) -> None:
        chunks, notes = spool.read_spool(self.spool)
        for note in notes:
            self.log.warning(note)
        used = 0
        for c in chunks:
            group = self.by_key.get(f"{c.phase}/V{volume_tag(c.volume)}")
            shell = next((s for s in group.shells if s.acc and abs(s.alpha - c.alpha)
                          <= ALPHA_TOL), None) if group else None
            if shell is None:
                self.log.warning("spooled chunk %s belongs to no shell of this campaign; kept",
                                 c.path.name)
                continue
            shell.offer(c.chunk, c.batch, c.path)
            used += 1
        if used:
            self.log.info("resumed %d finished chunk(s) from the spool %s", used, self.spool)

    # -- commits --------------------------------------------------------------------------------
    def commit(self) -> None:
        pvs, included = [], []
        for g in self.groups:
            pv, shells = g.phase_volume(self.spec.flavour)
            pvs.append(pv)
            included += shells
        keys = {(g.reference.phase, volume_tag(g.reference.volume)) for g in self.groups}
        for pv in self.archive.phase_volumes if self.archive else []:
            if (pv.reference.phase, volume_tag(pv.reference.volume)) not in keys:
                pvs.append(pv)  # a (phase, volume) of the archive not in this spec: kept
        run = self.metadata["provenance"]["this_run"]
        run.update(wall_time_s=round(time.time() - self.started, 3),
                   samples=self.samples_run, chunks=self.chunks_run,
                   worker_cpu_s=round(self.worker_cpu, 3))
        created = self.archive.metadata.get("created") if self.archive else None
        write_archive(self.path, pvs, self.metadata, created=created)
        folded = [p for s in included for p in s.uncommitted]
        spool.remove(folded)
        for s in included:
            s.uncommitted.clear()
        self.last_commit = time.time()
        self.log.debug("committed %s (%d spooled chunk(s) folded)", self.path, len(folded))

    def maybe_commit(self) -> None:
        if time.time() - self.last_commit >= self.spec.commit_interval:
            self.commit()

    # -- results --------------------------------------------------------------------------------
    def accept(self, result: ChunkResult) -> None:
        task, batch = result.task, result.batch
        path = spool.write_chunk(self.spool, task.phase, task.volume, task.alpha, task.chunk,
                                 batch)
        shell = next(s for s in self.by_key[task.group].shells if s.index == task.shell)
        shell.offer(task.chunk, batch, path)
        self.samples_run += task.n_samples
        self.chunks_run += 1
        self.worker_cpu += result.cpu
        self.progress.advance(task.phase, task.n_samples, result.cpu)
        if batch.n_unphysical:
            self.log.warning("%s: %d unphysical sample(s) rejected (%s)", task.label,
                             batch.n_unphysical, "; ".join(batch.reasons[:2]))

    def fail(self, task: ChunkTask, message: str) -> None:
        group = self.by_key[task.group]
        t_alpha = float(group.reference.shell_temperature(task.alpha, GRID_CONVENTIONS))
        failure = ChunkFailure(task.phase, task.volume, task.shell, task.alpha, t_alpha,
                               task.chunk, list(task.entropy), message)
        self.failures.append(failure)
        self.log.error("chunk failed twice, skipped: %s, seed %s: %s", task.label,
                       list(task.entropy), message)


def _loop(run: _Run, tasks: list[ChunkTask], factory: ExecutorFactory,
          executor: Executor | None, own: bool) -> None:
    """Run ``tasks`` (in process, or through a bounded window of futures), retrying once.
    ``own``: the executor was created by ``factory`` (it is closed, and re-created if broken)."""
    payloads = {g.key: g.payload for g in run.groups}
    queue: deque[tuple[ChunkTask, int]] = deque((t, 1) for t in tasks)

    def handle(task: ChunkTask, attempt: int, result: ChunkResult) -> None:
        if result.error is None:
            run.accept(result)
        elif attempt == 1:
            run.log.warning("%s failed (%s); retrying once", task.label, result.error)
            queue.appendleft((task, 2))
        else:
            run.fail(task, result.error)
        run.maybe_commit()

    if executor is None and factory.in_process:
        while queue:
            task, attempt = queue.popleft()
            handle(task, attempt, run_chunk(task, payloads[task.group]))
        return
    executor = executor or factory.create()
    window = 2 * worker_count(executor, factory.workers)
    inflight: dict[Future, tuple[ChunkTask, int]] = {}
    restarts = 0
    try:
        while queue or inflight:
            broken = False
            while queue and len(inflight) < window:
                task, attempt = queue.popleft()
                try:
                    future = executor.submit(run_chunk, task, payloads[task.group])
                except BrokenExecutor:  # a worker died since the last wait: restart below
                    queue.appendleft((task, attempt))
                    broken = True
                    break
                inflight[future] = (task, attempt)
            if broken and not own:
                raise PhasetuneError("the executor's worker processes died",
                                     "restart the executor (or the scheduler) and run again")
            done, _ = wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)
            for future in done:
                task, attempt = inflight.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # the worker died (crash, kill) or the pool broke
                    broken = broken or "Broken" in type(exc).__name__
                    result = ChunkResult(task, None, f"{type(exc).__name__}: {exc}")
                handle(task, attempt, result)
            if broken and own:
                restarts += 1
                if restarts > MAX_POOL_RESTARTS:
                    raise PhasetuneError(
                        f"worker processes died {restarts} times (last: {result.error})",
                        "check the log; a script that starts a campaign needs an "
                        "`if __name__ == '__main__':` guard (spawned workers import it)")
                run.log.warning("a worker process died; restarting the pool")
                for future, (task, attempt) in inflight.items():
                    future.cancel()
                    queue.appendleft((task, attempt))
                inflight.clear()
                factory.close(executor, wait=False)
                executor = factory.create()
    finally:
        if own:
            factory.close(executor, wait=not inflight)


def extensions(archive: Archive | None, spec: CampaignSpec,
               t_max: dict[str, float] | None = None) -> dict[str, float]:
    """Per phase, the temperature its shell grid is extended to: the archive's record
    (``sampler.extended_to``, kept for every phase it names) raised to ``t_max`` where that asks
    for more.  An extension at or below ``isosurfaces.temperatures[1]`` changes nothing."""
    recorded = archive.metadata.get("sampler", {}).get("extended_to", {}) if archive else {}
    names = {p.name for p in spec.phases}
    unknown = sorted(set(t_max or {}) - names)
    if unknown:
        raise PhasetuneError(f"--t-max: phase(s) {', '.join(unknown)} not in the campaign",
                             f"phases: {', '.join(sorted(names))}")
    out = {name: float(t) for name, t in recorded.items()}
    for name, t in (t_max or {}).items():
        out[name] = max(out.get(name, 0.0), float(t))
    return out


def run_campaign(spec: CampaignSpec, executor: str | Executor | None = None,
                 workers: int | None = None, scheduler: str | None = None, quiet: bool = False,
                 progress: bool = True, t_max: dict[str, float] | None = None
                 ) -> CampaignResult:
    """Run (or resume, or extend) a campaign until every requested chunk is committed.

    Args:
        spec: the validated campaign (:func:`~phasetune.campaign.spec.load_campaign`).
        executor: ``"local"``, ``"mpi"``, ``"dask"`` or any ``concurrent.futures.Executor``
            (default: ``spec.executor.kind``).
        workers: worker count (default: ``spec.executor.workers``, else all cores).
        scheduler: Dask scheduler address (default: ``spec.executor.scheduler``).
        quiet: no progress bars and no messages on the terminal (the log file is still written).
        progress: show progress bars (samples/s and ETA per phase).
        t_max: per phase, a temperature to extend its shell grid to (shells appended above the
            grid on its own lattice, :func:`~phasetune.campaign.isosurfaces.isosurface_grid`).  The
            extension is recorded in the archive (``sampler.extended_to``) and every later run
            keeps it; it never shrinks.

    Raises:
        KeyboardInterrupt: after committing everything finished (re-run to resume).
        ArchiveError: the archive is corrupted, or holds another campaign.
        CampaignLockedError: another process is running a campaign into the same archive (the
            lock ``<archive>.lock`` is held for the whole run; see :mod:`.lock`).
    """
    with campaign_lock(spec.archive_path):
        return _run_locked(spec, executor, workers, scheduler, quiet, progress, t_max)


def _run_locked(spec: CampaignSpec, executor: str | Executor | None, workers: int | None,
                scheduler: str | None, quiet: bool, progress: bool,
                t_max: dict[str, float] | None = None) -> CampaignResult:
    """:func:`run_campaign` while holding the campaign lock."""
    given = executor if isinstance(executor, Executor) else None
    kind = executor if isinstance(executor, str) else spec.executor.kind
    factory = ExecutorFactory(kind, workers or spec.executor.workers,
                              scheduler or spec.executor.scheduler)
    if given is None:
        factory.require()
    pool = None
    if given is None and kind == "local" and not factory.in_process:
        # start the workers now: they import LAMMPS while the references are being built
        pool = factory.create()
        for _ in range(factory.workers):
            pool.submit(warm_up)
    try:
        run = _Run(spec, quiet, progress, t_max)
    except BaseException:
        factory.close(pool, wait=False)
        raise
    for g in run.groups:
        for message in g.warnings:
            run.log.warning(message)
        for message in g.notes:
            run.log.warning("note: %s", message)  # to the terminal too, unless quiet
    run.resume_spool()
    spec = run.spec  # generated volume grids resolved
    tasks = [t for g in run.groups for t in g.tasks(spec)]
    total = sum(s.n_chunks for g in run.groups for s in g.shells)
    skipped = total - len(tasks)
    run.log.info("campaign %s: %d chunk(s) to run, %d already done; executor %s, workers %s",
                 run.path.name, len(tasks), skipped, kind if given is None else "given",
                 factory.workers or "default")
    run.commit()
    run.progress.start(tasks)
    try:
        _loop(run, tasks, factory, given or pool, own=given is None)
    except KeyboardInterrupt:
        run.log.warning("interrupted: committing finished chunks; re-run to resume")
        run.commit()
        run.progress.close()
        raise
    run.progress.close()
    run.commit()
    return _report(run, skipped)


def _report(run: _Run, skipped: int) -> CampaignResult:
    unphysical, waiting = [], []
    for g in run.groups:
        for s in g.shells:
            if s.n_unphysical:
                unphysical.append({"phase": g.reference.phase, "volume": g.reference.volume,
                                   "alpha": s.alpha, "count": s.n_unphysical,
                                   "examples": s.examples})
            if s.acc is not None and (not s.complete or s.uncommitted or s.pending):
                waiting.append(f"{g.reference.phase} V={g.reference.volume:g} α={s.alpha:.4f}")
    complete = not run.failures and not waiting
    if not spool.any_files(run.spool):
        spool.remove_dir_if_empty(run.spool)
    warnings = [w for g in run.groups for w in g.warnings]
    if waiting:
        warnings.append(f"incomplete shells (chunks kept in {run.spool}): {', '.join(waiting)}")
    for u in unphysical:
        warnings.append(f"{u['phase']} V={u['volume']:g} α={u['alpha']:.4f}: {u['count']} "
                        f"unphysical sample(s) rejected, e.g. {u['examples'][:1]}")
    for w in warnings[len([w for g in run.groups for w in g.warnings]):]:
        run.log.warning(w)
    wall = time.time() - run.started
    run.log.info("campaign %s: %s; %d samples in %.1f s", run.path.name,
                 "complete" if complete else "INCOMPLETE", run.samples_run, wall)
    return CampaignResult(run.path, run.log_file, complete, run.samples_run, run.chunks_run,
                          skipped, run.failures, unphysical, warnings, wall,
                          run.progress.rates(), run.volume_grids, run.active_extensions())
