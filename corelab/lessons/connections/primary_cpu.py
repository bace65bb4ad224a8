"""The primary's CPU time, read with psutil while Locust runs: snapshots at both edges of a window.

The sampler (corelab.harness.sampler) gives CPU in % over 0.1 s ticks; the price of one connection in
the primary is microseconds, so here CPU *times* are read instead, every ``SNAPSHOT_EVERY_S``,
and a window's cost is the difference between two snapshots. Voluntary context switches count
the primary's wake-ups. The snapshots are a ``during`` callback of corelab.harness.run.run_one; the load
generator's CPU comes from the run's sampler. Used by corelab.lessons.connections.primary_cost_run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
import psutil

from corelab.harness.during import During, LiveRun
from plumbing.procs import cpu_seconds

# Snapshots of CPU times this often while Locust runs; the window's edges fall on snapshots.
SNAPSHOT_EVERY_S = 0.25


@dataclass(frozen=True)
class Snapshot:
    t: float  # Unix time, the clock Locust stamps its timeline with
    primary_s: float
    primary_wakeups: int
    workers_s: float


def wakeups(proc: psutil.Process) -> int:
    try:
        return proc.num_ctx_switches().voluntary
    except psutil.Error:
        return 0


def snapshot_while_loaded(snapshots: list[Snapshot]) -> During:
    """A ``during`` callback for corelab.harness.run.run_one: snapshot the primary's and its workers' CPU times
    every ``SNAPSHOT_EVERY_S`` from the load's start until it ends, into ``snapshots``."""

    def take(run: LiveRun) -> None:
        primary = psutil.Process(run.pid)
        workers = primary.children(recursive=True)
        while True:
            snapshots.append(Snapshot(time.time(), cpu_seconds([primary]), wakeups(primary), cpu_seconds(workers)))
            if run.over.wait(SNAPSHOT_EVERY_S):
                return

    return take


def mean_group_cpu(procs: pd.DataFrame, group: str, t_from: float, t_to: float) -> float:
    """A sampled group's mean CPU (% of one core) between two times on the sampler's clock."""
    window = procs[(procs["group"] == group) & (procs["t"] >= t_from) & (procs["t"] <= t_to)]
    return float(window.groupby("t")["cpu_pct"].sum().mean()) if not window.empty else 0.0


def connections_between(timeline: pd.DataFrame, t_from: float, t_to: float, column: str) -> float:
    """Connections in [t_from, t_to], counting a tenth-of-a-second bucket by how much of it is inside."""
    overlap = (timeline["t"] + 0.1).clip(upper=t_to) - timeline["t"].clip(lower=t_from)
    return float((timeline[column] * (overlap.clip(lower=0.0) / 0.1)).sum())
