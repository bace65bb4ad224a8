"""Lab 4, a solution, part 1: a request that names a session goes to the worker that holds it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

# The sid is in the query string; in this lab it starts with its worker's pid: sid=w4242.AbC...
_SID_OWNER = re.compile(rb"[?&]sid=w(\d+)\.")


class Worker(Protocol):
    pid: int


def choose_worker(request_line: bytes, workers: Sequence[Worker], turn: int) -> Worker:
    """The worker for a connection whose first request line is ``request_line``."""
    match = _SID_OWNER.search(request_line)
    if match:
        owner = int(match.group(1))
        for worker in workers:
            if worker.pid == owner:
                return worker
        # Its worker has died, and the session with it: any worker says so and the client starts over.
    return workers[turn % len(workers)]
