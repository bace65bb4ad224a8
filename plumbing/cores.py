"""The cores this process may use: the one place the kit asks."""

from __future__ import annotations

import os


def usable_cores() -> list[int]:
    """The ids of the cores this process may run on: its affinity mask, not just the machine's count.

    A container or ``taskset`` may give a process fewer cores than the machine has; a worker
    count or a speed-up judged against the machine's count would then be wrong.
    """
    if hasattr(os, "sched_getaffinity"):  # Linux
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # macOS has no affinity masks: every core


def usable_core_count() -> int:
    """How many cores this process may run on (``len(usable_cores())``)."""
    return len(usable_cores())
