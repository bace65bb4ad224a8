"""Reuse workers instead of starting one per task: the cost of a new process (or thread), measured.

Each mode runs the same tiny task many times, one after the other, and records each task's
latency: from asking for it to holding its result. The task itself does next to nothing, so
the latency is the overhead of the mode: handing work to a pool that is already running, or
creating a thread, or creating a whole process (spawn: a fresh interpreter that imports its
modules; fork: a copy of this one) and tearing it down again.

Fork only where it is safe: on Linux, from a process with one thread. A Jupyter kernel runs
several threads, and a forked copy of a threaded process can deadlock on a lock another thread
held (Python 3.12+ warns "use of fork() may lead to deadlocks"; macOS crashes outright, which is
why CPython moved macOS to spawn). A threaded process on Linux forks through multiprocessing's
forkserver instead, a single-threaded helper that forks each child; on macOS the new-process
mode is spawn alone. The result says which start method ran and why.

    python -m corelab spawn-cost [--tasks 200] [--process-tasks 30]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from multiprocessing import forkserver, get_all_start_methods, get_context
from typing import Any

import pandas as pd

from corelab.claim import Claim
from corelab.harness.quick import pick
from corelab.lessons.one_process.jobs import tiny_task, tiny_task_over_pipe
from corelab.lessons.one_process.pools import process_pool, start_workers, thread_pool
from corelab.text_table import Column, text_table

POOL_THREAD = "thread pool (reused)"
NEW_THREAD = "new thread per task"
POOL_PROCESS = "process pool (reused, spawn)"
NEW_SPAWN = "new process per task (spawn)"
NEW_FORK = "new process per task (fork)"
NEW_FORKSERVER = "new process per task (forkserver)"
# The claim's field prefixes: pool_process_median_ms, new_spawn_median_ms, ...
CLAIM_MODES = {
    "pool_thread": POOL_THREAD,
    "new_thread": NEW_THREAD,
    "pool_process": POOL_PROCESS,
    "new_spawn": NEW_SPAWN,
    "new_fork": NEW_FORK,
    "new_forkserver": NEW_FORKSERVER,
}
COPY_MODES = {"fork": NEW_FORK, "forkserver": NEW_FORKSERVER}  # the mode measured beside spawn, by method


@dataclass(frozen=True)
class SpawnCostConfig:
    tasks: int = 200  # per cheap mode (pools, new threads)
    process_tasks: int = 30  # per new-process mode: each costs tens of milliseconds


@dataclass
class SpawnCostResult(Claim):
    """Notebook 06: a new process per task costs tens of milliseconds; a reused pool, a fraction of one."""

    latencies: pd.DataFrame  # mode, task, latency_ms
    start_method: str = "fork"  # beside spawn: fork, forkserver, or spawn (spawn alone: nothing else is safe)
    start_method_why: str = ""  # why that one: the platform and this process's threads

    def stats(self) -> pd.DataFrame:
        """Per mode: tasks, median, p90 and p99 latency in ms, in the order the modes ran."""
        grouped = self.latencies.groupby("mode", sort=False)["latency_ms"]
        table = pd.DataFrame(
            {
                "tasks": grouped.size(),
                "median_ms": grouped.median(),
                "p90_ms": grouped.quantile(0.9),
                "p99_ms": grouped.quantile(0.99),
            }
        )
        return table.reset_index()

    def median_ms(self, mode: str) -> float:
        """The mode's median task latency; NaN for a mode not measured (fork where there is none)."""
        return float(self.latencies.loc[self.latencies["mode"] == mode, "latency_ms"].median())

    @property
    def spawn_over_pool(self) -> float:
        """How many times a reused process pool's overhead a new spawned process per task costs."""
        return self.median_ms(NEW_SPAWN) / self.median_ms(POOL_PROCESS)

    def fields(self) -> dict[str, Any]:
        medians = {f"{key}_median_ms": round(self.median_ms(mode), 4) for key, mode in CLAIM_MODES.items()}
        tasks = self.latencies.groupby("mode")["task"].size()
        return {
            **medians,
            "spawn_over_pool": round(self.spawn_over_pool, 1),
            "tasks": int(tasks.get(POOL_THREAD, 0)),
            "process_tasks": int(tasks.get(NEW_SPAWN, 0)),
            "start_method": self.start_method,
            "start_method_why": self.start_method_why,
        }

    def sentence(self) -> str:
        f = self.fields()
        lines = [
            f"A task through the reused process pool: a median {f['pool_process_median_ms']:.2f} ms of overhead.",
            f"A new spawned process per task: a median {f['new_spawn_median_ms']:.0f} ms, "
            f"{f['spawn_over_pool']:.0f}x the pool's (a fresh interpreter imports its modules first).",
        ]
        copy = COPY_MODES.get(self.start_method)
        if copy in set(self.latencies["mode"]):
            how = "forked process" if self.start_method == "fork" else "process forked by the forkserver helper"
            lines.append(
                f"A new {how} per task: a median {self.median_ms(copy):.1f} ms ({self.start_method}: "
                f"{self.start_method_why})."
            )
        else:
            lines.append(f"No forked process per task here: {self.start_method_why}.")
        lines.append(
            f"Threads: {f['pool_thread_median_ms']:.3f} ms through a pool, "
            f"{f['new_thread_median_ms']:.3f} ms for a new one per task."
        )
        return "\n".join(lines)

    def summary_table(self) -> str:
        """Per mode: tasks and latency percentiles (what ``python -m corelab spawn-cost`` prints)."""
        columns = [
            Column("mode", 32, left=True),
            Column("tasks", 5, "d"),
            Column("median ms", 10, ".3f"),
            Column("p90 ms", 8, ".3f"),
            Column("p99 ms", 8, ".3f"),
        ]
        return text_table(columns, self.stats().itertuples(index=False))

    def __repr__(self) -> str:
        return self.summary_table()


def _through_pool(pool: Executor, tasks: int) -> list[float]:
    start_workers(pool, 2)  # the pool's start-up is paid once, before the clock runs
    latencies = []
    for _ in range(tasks):
        sent = time.perf_counter()
        pool.submit(tiny_task, sent).result()
        latencies.append(time.perf_counter() - sent)
    return latencies


def _new_thread_each(tasks: int) -> list[float]:
    latencies = []
    for _ in range(tasks):
        sent = time.perf_counter()
        box: list[object] = []
        thread = threading.Thread(target=_run_into, args=(box, sent))
        thread.start()
        thread.join()
        latencies.append(time.perf_counter() - sent)
    return latencies


def _run_into(box: list[object], sent: float) -> None:
    box.append(tiny_task(sent))


def _new_process_each(method: str, tasks: int) -> list[float]:
    ctx = get_context(method)
    started_helper = method == "forkserver" and _start_forkserver()
    try:
        latencies = []
        for _ in range(tasks):
            sent = time.perf_counter()
            receiver, sender = ctx.Pipe(duplex=False)
            process = ctx.Process(target=tiny_task_over_pipe, args=(sender, sent), daemon=True)
            process.start()
            sender.close()
            receiver.recv()
            # The task is done when its result is here and its process is gone: both are its cost.
            process.join()
            latencies.append(time.perf_counter() - sent)
            receiver.close()
        return latencies
    finally:
        if started_helper:
            _stop_forkserver()


def _start_forkserver() -> bool:
    """Start multiprocessing's forkserver helper before the clock runs; True if this call started it.

    It imports the task's module up front, as a forked copy of this process has it already. A helper
    already running (3.14's default start method, a pool made earlier) is used as it is.
    """
    running = getattr(forkserver._forkserver, "_forkserver_pid", None) is not None
    if not running:
        forkserver.set_forkserver_preload(["__main__", tiny_task_over_pipe.__module__])
    forkserver.ensure_running()
    return not running


def _stop_forkserver() -> None:
    """Stop the helper this lesson started: it would end with this process, but a kernel lives on,
    and what the kit starts it stops. ``_stop`` is what CPython's own tests use (3.8 to 3.14); where
    it is missing the helper still ends with this process (it reads a pipe that closes then)."""
    stop = getattr(forkserver._forkserver, "_stop", None)
    if callable(stop):
        stop()


def thread_count() -> int:
    """This process's threads: Python's, and on Linux every thread the kernel knows (a C library's too)."""
    count = threading.active_count()
    try:
        count = max(count, len(os.listdir("/proc/self/task")))
    except OSError:  # no /proc (macOS)
        pass
    return count


def copy_start_method(platform: str | None = None, threads: int | None = None) -> tuple[str, str]:
    """The start method for a new process per task beside spawn, and why: fork where it is safe
    (Linux, one thread), else forkserver (Linux), else spawn alone (macOS, elsewhere)."""
    platform = platform or sys.platform
    threads = thread_count() if threads is None else threads
    methods = get_all_start_methods()
    if not platform.startswith("linux"):
        return "spawn", (
            f"fork is unsafe on {platform} (system libraries there break in a forked child), "
            "so CPython and this lesson use spawn"
        )
    if threads == 1 and "fork" in methods:
        return "fork", "this process runs one thread, so a forked copy is safe"
    if "forkserver" in methods:
        return "forkserver", (
            f"this process runs {threads} threads (a Jupyter kernel runs several, and C libraries such as "
            "OpenBLAS start their own), and a forked copy of a threaded process can deadlock, so a "
            "single-threaded forkserver helper forks each one"
        )
    return "spawn", f"this process runs {threads} threads and this Python has no forkserver"


def measure_spawn_cost(config: SpawnCostConfig | None = None) -> SpawnCostResult:
    cfg = config or SpawnCostConfig()
    modes: list[tuple[str, Callable[[], list[float]]]] = [
        (POOL_THREAD, lambda: _with_pool(thread_pool(2), cfg.tasks)),
        (NEW_THREAD, lambda: _new_thread_each(cfg.tasks)),
        (POOL_PROCESS, lambda: _with_pool(process_pool(2), cfg.tasks)),
        (NEW_SPAWN, lambda: _new_process_each("spawn", cfg.process_tasks)),
    ]
    rows = []
    for mode, run in modes:
        for i, seconds in enumerate(run()):
            rows.append((mode, i, seconds * 1000.0))
    # Chosen now, after the pools above are shut down and their threads joined: their threads
    # are gone, and any left (a kernel's) are this process's own.
    method, why = copy_start_method()
    if method in COPY_MODES:
        for i, seconds in enumerate(_new_process_each(method, cfg.process_tasks)):
            rows.append((COPY_MODES[method], i, seconds * 1000.0))
    latencies = pd.DataFrame(rows, columns=["mode", "task", "latency_ms"])
    return SpawnCostResult(latencies, start_method=method, start_method_why=why)


def _with_pool(pool: Executor, tasks: int) -> list[float]:
    with pool:
        return _through_pool(pool, tasks)


def run_spawn_cost(tasks: int | None = None, process_tasks: int | None = None) -> SpawnCostResult:
    """The notebook's entry point: QUICK-aware task counts."""
    return measure_spawn_cost(SpawnCostConfig(tasks=tasks or pick(200, 40), process_tasks=process_tasks or pick(30, 6)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab spawn-cost``'s options."""
    parser.add_argument("--tasks", type=int, default=200, help="tasks per pool / new-thread mode (1..10000)")
    parser.add_argument("--process-tasks", type=int, default=30, help="tasks per new-process mode (1..1000)")


def run_command(args: argparse.Namespace) -> int:
    """Per-task latency per mode, and the claim: the pool's advantage over a new process per task."""
    if not (1 <= args.tasks <= 10_000 and 1 <= args.process_tasks <= 1000):
        raise ValueError("--tasks must be in 1..10000 and --process-tasks in 1..1000")
    result = measure_spawn_cost(SpawnCostConfig(args.tasks, args.process_tasks))
    print(result.summary_table())
    print(result.sentence())
    return 0
