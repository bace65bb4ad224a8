"""Processes that share one counter in ``multiprocessing.shared_memory``: lost updates, and locks.

``SharedMemory`` is Python's SharedArrayBuffer: bytes that several processes map at once. Each
process adds to one 64-bit integer in it. ``counter[0] += 1`` is three steps (read, add, write);
two processes on two cores interleave them and additions vanish. A ``multiprocessing.Lock`` (a
POSIX semaphore) makes the count exact, at a price per operation that this measures. Counting
privately and adding once under the lock ("batched") is exact and nearly free.

What plays the part of JavaScript's Atomics: the standard library has no atomic operations on
shared memory, no Atomics.add or compareExchange. ``multiprocessing.Lock``/``RLock``/``Value``
(whose ``get_lock()`` you must hold yourself: ``value.value += 1`` is not atomic) play the lock;
``Condition``, ``Event`` and ``Semaphore`` play Atomics.wait/notify. The GIL makes some
operations atomic between threads of one process, never between processes. Lock-free atomics
on a buffer exist only outside the standard library (e.g. the ``atomics`` package on PyPI).

    python -m corelab shared-counter [--processes 2] [--increments 500000]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.shared_memory import SharedMemory
from typing import Any

import pandas as pd

from corelab.claim import Claim
from corelab.harness.quick import pick
from corelab.lessons.one_process.jobs import add_to_counter
from corelab.text_table import Column, text_table

MODES = ("unlocked", "locked", "batched")


@dataclass(frozen=True)
class CounterConfig:
    processes: int = 2
    increments: int = 500_000  # per process


@dataclass
class CounterResult(Claim):
    """Notebook 07: without a lock additions are lost; a lock per addition is exact and costly; batched is
    exact and cheap."""

    table: pd.DataFrame  # mode, processes, increments, expected, counted, lost, lost_pct, wall_s, ns_per_op

    def row(self, mode: str) -> pd.Series:
        return self.table.set_index("mode").loc[mode]

    @property
    def lock_cost_ns(self) -> float:
        """What the lock adds to one increment, in nanoseconds (locked minus unlocked)."""
        return float(self.row("locked")["ns_per_op"] - self.row("unlocked")["ns_per_op"])

    def fields(self) -> dict[str, Any]:
        first = self.table.iloc[0]
        numbers: dict[str, Any] = {
            "processes": int(first["processes"]),
            "increments": int(first["increments"]),
            "expected": int(first["expected"]),
        }
        for mode in MODES:
            row = self.row(mode)
            numbers[f"{mode}_counted"] = int(row["counted"])
            numbers[f"{mode}_lost"] = int(row["lost"])
            numbers[f"{mode}_lost_pct"] = round(float(row["lost_pct"]), 2)
            numbers[f"{mode}_ns_per_op"] = round(float(row["ns_per_op"]), 1)
        return {**numbers, "lock_cost_ns": round(self.lock_cost_ns, 1)}

    def sentence(self) -> str:
        f = self.fields()

        def exact(mode: str) -> str:
            lost = f[f"{mode}_lost"]
            return "exact" if lost == 0 else f"WRONG: {lost:,} lost"

        return (
            f"Without a lock, {f['processes']} processes adding {f['increments']:,} times each left the counter "
            f"at {f['unlocked_counted']:,} of {f['expected']:,}: {f['unlocked_lost']:,} additions lost "
            f"({f['unlocked_lost_pct']:.0f}%).\n"
            f"With a lock per addition the count is {exact('locked')} ({f['locked_counted']:,}), at "
            f"{f['locked_ns_per_op']:.0f} ns an addition against {f['unlocked_ns_per_op']:.0f} ns: "
            f"the lock costs about {f['lock_cost_ns']:.0f} ns each.\n"
            f"Batched (count privately, add once under the lock): {exact('batched')}, "
            f"{f['batched_ns_per_op']:.0f} ns an addition."
        )

    def summary_table(self) -> str:
        """One line per mode (what ``python -m corelab shared-counter`` prints before the sentence)."""
        columns = [
            Column("mode", 9, left=True),
            Column("expected", 10, "d"),
            Column("counted", 10, "d"),
            Column("lost", 9, "d"),
            Column("wall s", 7, ".3f"),
            Column("ns/increment", 12, ".0f"),
        ]
        rows = self.table[["mode", "expected", "counted", "lost", "wall_s", "ns_per_op"]].itertuples(index=False)
        return text_table(columns, rows)

    def __repr__(self) -> str:
        return self.summary_table()


def run_counter(mode: str, cfg: CounterConfig) -> dict:
    """Start ``cfg.processes`` processes adding to one shared counter in ``mode``; read what it says."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}: choose from {', '.join(MODES)}")
    # spawn, not fork: a Jupyter kernel runs threads, and forking a threaded process is unsafe.
    ctx = get_context("spawn")
    shm = SharedMemory(create=True, size=8)
    try:
        shm.buf[:8] = bytes(8)
        lock, barrier, results = ctx.Lock(), ctx.Barrier(cfg.processes), ctx.SimpleQueue()
        workers = [
            ctx.Process(target=add_to_counter, args=(shm.name, cfg.increments, mode, lock, barrier, results))
            for _ in range(cfg.processes)
        ]
        try:
            for w in workers:
                w.start()
            for w in workers:
                w.join(timeout=120)
        finally:
            for w in workers:  # only if something went wrong: none may outlive the measurement
                if w.is_alive():
                    w.kill()
                    w.join()
        if any(w.exitcode != 0 for w in workers):
            raise RuntimeError(f"a counting process failed: exit codes {[w.exitcode for w in workers]}")
        spans = [results.get() for _ in workers]
        counted = int(shm.buf.cast("q")[0])
    finally:
        shm.close()
        shm.unlink()
    expected = cfg.processes * cfg.increments
    wall = max(end for _, end in spans) - min(start for start, _ in spans)
    return {
        "mode": mode,
        "processes": cfg.processes,
        "increments": cfg.increments,
        "expected": expected,
        "counted": counted,
        "lost": expected - counted,
        "lost_pct": 100.0 * (expected - counted) / expected,
        "wall_s": wall,
        # Per process: the processes add side by side, so this is each one's time per increment.
        "ns_per_op": 1e9 * wall / cfg.increments,
    }


def measure_counter(config: CounterConfig | None = None) -> CounterResult:
    cfg = config or CounterConfig()
    return CounterResult(pd.DataFrame([run_counter(mode, cfg) for mode in MODES]))


def run_shared_counter(processes: int = 2, increments: int | None = None) -> CounterResult:
    """The notebook's entry point: QUICK-aware size."""
    return measure_counter(CounterConfig(processes, increments or pick(500_000, 100_000)))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab shared-counter``'s options."""
    parser.add_argument("--processes", type=int, default=2, help="processes adding at once (2..16)")
    parser.add_argument("--increments", type=int, default=500_000, help="additions per process (1..10,000,000)")


def run_command(args: argparse.Namespace) -> int:
    """Each way of adding: the final count against the expected one, and the time per operation."""
    if not (2 <= args.processes <= 16 and 1 <= args.increments <= 10_000_000):
        raise ValueError("--processes must be in 2..16 and --increments in 1..10000000")
    result = measure_counter(CounterConfig(args.processes, args.increments))
    print(result.summary_table())
    print(result.sentence())
    return 0
