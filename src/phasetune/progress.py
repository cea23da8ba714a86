"""Progress reporting on stderr for long steps: a tqdm bar on a terminal, periodic one-line
reports when stderr is a file or a pipe (a log), or nothing.

:func:`progress_bar` returns an object with ``update(n)`` usable as a context manager, in every
mode, so callers need not care which one is active.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Literal, TextIO

ProgressMode = Literal["bar", "lines", "off"]

LINE_FRACTION = 0.1
"""A line is printed each time another 10 % of the work is done …"""
LINE_SECONDS = 30.0
"""… or when this many seconds passed since the last line."""


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (default stderr) is an interactive terminal."""
    stream = stream if stream is not None else sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def resolve_mode(progress: bool | str | None) -> ProgressMode:
    """``None``: a bar on a terminal, lines otherwise; ``True``/``"bar"``: a bar; ``"lines"``;
    ``False``/``"off"``: nothing."""
    if progress is None:
        return "bar" if is_terminal() else "lines"
    if progress is True:
        return "bar"
    if progress is False:
        return "off"
    if progress not in ("bar", "lines", "off"):
        raise ValueError(f"progress must be a bool, 'bar', 'lines' or 'off', got {progress!r}")
    return progress  # type: ignore[return-value]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


class LineProgress:
    """One line on ``stream`` every :data:`LINE_FRACTION` of ``total`` or :data:`LINE_SECONDS`,
    e.g. ``phasetune: TI lambda: 40% (12000/30000 step), 1 min 20 s elapsed, ~2 min 00 s left``.
    """

    def __init__(self, total: int, desc: str, unit: str = "step", stream: TextIO | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total = max(int(total), 0)
        self.desc, self.unit = desc, unit
        self.stream = stream
        self.clock = clock
        self.n = 0
        self.t0 = self.last_time = clock()
        self.last_fraction = 0.0

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self.clock()
        fraction = self.n / self.total if self.total else 1.0
        if (fraction - self.last_fraction >= LINE_FRACTION - 1e-12
                or now - self.last_time >= LINE_SECONDS):
            self._line(now, fraction)

    def _line(self, now: float, fraction: float) -> None:
        elapsed = now - self.t0
        left = f", ~{_duration(elapsed * (1 - fraction) / fraction)} left" \
            if 0 < fraction < 1 else ""
        stream = self.stream if self.stream is not None else sys.stderr
        print(f"phasetune: {self.desc}: {100 * fraction:.0f}% ({self.n}/{self.total} "
              f"{self.unit}), {_duration(elapsed)} elapsed{left}", file=stream, flush=True)
        self.last_time, self.last_fraction = now, fraction

    def close(self) -> None:
        """Print the final line if the last one was not at 100 %."""
        if self.total and self.n >= self.total and self.last_fraction < 1.0:
            self._line(self.clock(), 1.0)

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()


def progress_bar(total: int, desc: str, progress: bool | str | None = None,
                 unit: str = "step"):
    """A progress reporter for ``total`` units of work (see :func:`resolve_mode`)."""
    mode = resolve_mode(progress)
    if mode == "lines":
        return LineProgress(total, desc, unit)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=mode == "off", leave=False,
                file=sys.stderr, dynamic_ncols=True)
