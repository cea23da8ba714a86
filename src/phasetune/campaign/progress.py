"""Progress bars (samples/s and ETA per phase) and the campaign log file."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from tqdm import tqdm

LOGGER = "phasetune.campaign"


class _TqdmHandler(logging.Handler):
    """Terminal messages that do not break the progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(f"phasetune: {self.format(record)}", file=sys.stderr)


def campaign_logger(log_file: Path, quiet: bool) -> logging.Logger:
    """The campaign logger: everything to ``log_file`` (appended); warnings, the summary and
    records logged with ``extra={"terminal": True}`` to the terminal unless ``quiet``.  Replaces
    the handlers of any previous campaign."""
    log = logging.getLogger(LOGGER)
    for handler in list(log.handlers):
        handler.close()
        log.removeHandler(handler)
    log.setLevel(logging.DEBUG)
    log.propagate = False
    file_handler = logging.FileHandler(log_file, mode="a", encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    file_handler.setLevel(logging.DEBUG)
    log.addHandler(file_handler)
    if not quiet:
        terminal = _TqdmHandler()
        terminal.setLevel(logging.INFO)  # warnings, and records logged with extra terminal=True
        terminal.addFilter(lambda r: r.levelno >= logging.WARNING or getattr(r, "terminal", False))
        log.addHandler(terminal)
    return log


MIN_CHUNKS = 3
"""No ETA until this many chunks have finished (the first ones include the workers' start-up)."""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class CampaignProgress:
    """One tqdm bar per phase, counting samples, each with an ETA from finished chunks.

    The ETA of a phase is the time until its last chunk is done, with chunks run in task order
    (phase after phase): the remaining worker CPU time of this phase and of the phases before it
    (CPU seconds per sample measured per phase on finished chunks), divided by the worker CPU
    seconds delivered per wall-clock second since the first chunk finished (so the workers'
    start-up does not count).  No ETA is shown before :data:`MIN_CHUNKS` chunks have finished.
    """

    def __init__(self, enabled: bool = True,
                 clock: Callable[[], float] = time.perf_counter):
        self.enabled = enabled
        self.clock = clock
        self.bars: dict[str, tqdm] = {}
        self.counts: dict[str, int] = {}
        self.busy: dict[str, float] = {}
        self.totals: dict[str, int] = {}
        self.chunks = 0
        self.t0 = clock()
        self.t1: float | None = None
        self.first: tuple[float, float] | None = None  # (time, worker CPU) of the first chunk

    def start(self, tasks: Iterable) -> None:
        totals: dict[str, int] = {}
        for task in tasks:
            totals[task.phase] = totals.get(task.phase, 0) + task.n_samples
        self.totals = totals
        self.t0 = self.clock()
        for i, (phase, total) in enumerate(totals.items()):
            self.counts[phase] = 0
            if self.enabled:
                self.bars[phase] = tqdm(
                    total=total, desc=phase, unit="sample", position=i, dynamic_ncols=True,
                    file=sys.stderr, leave=True,
                    bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                               "samples [{elapsed}{postfix}]",
                    postfix=f"ETA after {MIN_CHUNKS} chunks")

    def advance(self, phase: str, n: int, worker_seconds: float) -> None:
        """Count n samples of ``phase`` that took ``worker_seconds`` (CPU) in a worker."""
        self.counts[phase] = self.counts.get(phase, 0) + n
        self.busy[phase] = self.busy.get(phase, 0.0) + worker_seconds
        self.chunks += 1
        if self.first is None:
            self.first = (self.clock(), worker_seconds)
        if phase in self.bars:
            self.bars[phase].update(n)
        if self.bars:
            etas = self.eta()
            for name, bar in self.bars.items():
                eta = etas.get(name)
                text = f"ETA after {MIN_CHUNKS} chunks" if eta is None else \
                    ("done" if bar.n >= bar.total else f"ETA {_duration(eta)}")
                bar.set_postfix_str(f"{text:<22}", refresh=True)

    def eta(self) -> dict[str, float]:
        """Seconds until each phase's last chunk is done (empty before MIN_CHUNKS chunks)."""
        if self.chunks < MIN_CHUNKS or self.first is None:
            return {}
        t_first, cpu_first = self.first
        wall = self.clock() - t_first
        cpu = sum(self.busy.values()) - cpu_first
        if wall <= 0 or cpu <= 0:
            return {}
        throughput = cpu / wall  # worker CPU seconds per wall-clock second
        done = sum(self.counts.values())
        mean_cost = sum(self.busy.values()) / max(done, 1)  # CPU seconds per sample
        out, ahead = {}, 0.0
        for phase, total in self.totals.items():
            n = self.counts.get(phase, 0)
            cost = self.busy[phase] / n if n else mean_cost
            ahead += max(total - n, 0) * cost
            out[phase] = ahead / throughput
        return out

    def rates(self) -> dict[str, float]:
        """``overall``: samples per wall-clock second of this run; per phase: samples per
        worker CPU-second (the throughput of one worker)."""
        elapsed = max((self.t1 or self.clock()) - self.t0, 1e-9)
        out = {"overall": sum(self.counts.values()) / elapsed}
        out.update({p: n / max(self.busy.get(p, 0.0), 1e-9) for p, n in self.counts.items()
                    if n})
        return out

    def close(self) -> None:
        """Stop the clock of :meth:`rates` and close the bars."""
        self.t1 = self.t1 or self.clock()
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()
