"""What happens during a run's load: a callback handed to ``run_one`` (a restart, a SIGKILL, Redis stopped).

The callback gets a ``LiveRun``: the server under load (its process, pid, url and worker pids)
and the run's clock, seconds since the load and the sampler started, the clock every table of
the run is on. It waits on that clock, acts, and records what it did; the records go to the
run's meta.json under ``events`` (``Runs.events`` reads them back), so a disrupted run is stored
and read like any other.

    def kill_a_worker(run: LiveRun) -> None:
        if run.wait_until(10):
            victim = min(run.worker_pids())
            os.kill(victim, signal.SIGKILL)
            run.record(f"SIGKILL to worker {victim}")

The callback runs in a thread beside the load, so the load and its progress (and any live view)
go on while it waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psutil

from plumbing.procs import ManagedProcess

# How long the end of a run waits for its callback to return once the load is over.
JOIN_TIMEOUT_S = 30.0


@dataclass
class LiveRun:
    """The server under load and the run's clock, as a ``during`` callback sees them."""

    server: ManagedProcess
    url: str
    started_at: float  # Unix time of t = 0 on the run's clock
    events: list[dict[str, Any]] = field(default_factory=list)
    over: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def pid(self) -> int:
        return self.server.pid

    def clock(self) -> float:
        """Seconds since the load started."""
        return time.time() - self.started_at

    def wait_until(self, t: float) -> bool:
        """Sleep until ``t`` on the run's clock; False if the load ended first (then do nothing more)."""
        return not self.over.wait(max(0.0, t - self.clock()))

    def record(self, what: str, **details: Any) -> None:
        """Note what happened now, on the run's clock."""
        self.events.append({"t": round(self.clock(), 3), "what": what, **details})

    def worker_pids(self) -> list[int]:
        """The server's child processes now (a cluster's workers), oldest pid first."""
        try:
            return sorted(p.pid for p in psutil.Process(self.pid).children())
        except psutil.Error:
            return []


During = Callable[[LiveRun], None]


@contextmanager
def during_load(during: During | None, server: ManagedProcess, url: str, started_at: float) -> Iterator[LiveRun]:
    """Run ``during`` beside the body (the load); afterwards, stop its waits and raise what it raised."""
    live = LiveRun(server, url, started_at)
    if during is None:
        yield live
        return
    failed: list[BaseException] = []

    def call() -> None:
        try:
            during(live)
        except BaseException as exc:  # handed to the caller's thread below
            failed.append(exc)

    thread = threading.Thread(target=call, name="corelab-during", daemon=True)
    thread.start()
    try:
        yield live
    finally:
        live.over.set()
        thread.join(JOIN_TIMEOUT_S)
    if thread.is_alive():
        raise TimeoutError(f"the during callback {during!r} did not return {JOIN_TIMEOUT_S:g} s after the load ended")
    if failed:
        raise RuntimeError(f"the during callback failed: {failed[0]!r}") from failed[0]
