"""CPU work in pure Python: the unit of load that every CPU-bound lesson uses."""

from __future__ import annotations

import time


def burn_cpu(ms: float) -> int:
    """Spin in pure Python until this thread has used ``ms`` milliseconds of CPU.

    The clock is the thread's own CPU time, not the wall clock, so a request costs the same
    CPU whether or not the core is shared with the load generator. Pure Python holds the GIL
    the whole time, which is the point. Returns the number of loop rounds done.
    """
    deadline = time.thread_time() + ms / 1000.0
    rounds = 0
    x = 0
    while time.thread_time() < deadline:
        # A few hundred bytecodes between clock reads keep the clock's cost negligible.
        for i in range(200):
            x = (x * 31 + i) & 0xFFFF
        rounds += 1
    return rounds
