"""The cores this process may run on (the default for workers and threads)."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores in this process's CPU affinity set (``os.cpu_count()`` where affinity is not
    available), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
