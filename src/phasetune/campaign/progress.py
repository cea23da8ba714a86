"""Progress bars (samples/s and ETA per phase) and the campaign log file."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

LOGGER = "phasetune.campaign"


class _TqdmHandler(logging.Handler):
    """Terminal messages that do not break the progress bars."""

    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(f"phasetune: {self.format(record)}", file=sys.stderr)


def campaign_logger(log_file: Path, quiet: bool) -> logging.Logger:
    """The campaign logger: everything to ``log_file`` (appended), warnings and the summary to
    the terminal unless ``quiet``.  Replaces the handlers of any previous campaign."""
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
        terminal.setLevel(logging.WARNING)
        log.addHandler(terminal)
    return log


class CampaignProgress:
    """One tqdm bar per phase, counting samples (rate in samples/s, ETA)."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.bars: dict[str, tqdm] = {}
        self.counts: dict[str, int] = {}
        self.busy: dict[str, float] = {}
        self.t0 = time.perf_counter()
        self.t1: float | None = None

    def start(self, tasks: Iterable) -> None:
        totals: dict[str, int] = {}
        for task in tasks:
            totals[task.phase] = totals.get(task.phase, 0) + task.n_samples
        self.t0 = time.perf_counter()
        for i, (phase, total) in enumerate(totals.items()):
            self.counts[phase] = 0
            if self.enabled:
                self.bars[phase] = tqdm(total=total, desc=phase, unit="sample", position=i,
                                        dynamic_ncols=True, file=sys.stderr, leave=True,
                                        smoothing=0.1)

    def advance(self, phase: str, n: int, worker_seconds: float) -> None:
        """Count n samples of ``phase`` that took ``worker_seconds`` (CPU) in a worker."""
        self.counts[phase] = self.counts.get(phase, 0) + n
        self.busy[phase] = self.busy.get(phase, 0.0) + worker_seconds
        if phase in self.bars:
            self.bars[phase].update(n)

    def rates(self) -> dict[str, float]:
        """``overall``: samples per wall-clock second of this run; per phase: samples per
        worker CPU-second (the throughput of one worker)."""
        elapsed = max((self.t1 or time.perf_counter()) - self.t0, 1e-9)
        out = {"overall": sum(self.counts.values()) / elapsed}
        out.update({p: n / max(self.busy.get(p, 0.0), 1e-9) for p, n in self.counts.items()
                    if n})
        return out

    def close(self) -> None:
        """Stop the clock of :meth:`rates` and close the bars."""
        self.t1 = self.t1 or time.perf_counter()
        for bar in self.bars.values():
            bar.close()
        self.bars.clear()
