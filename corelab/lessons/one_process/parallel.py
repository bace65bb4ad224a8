"""The same CPU job in 1..k threads and 1..k processes: what the GIL allows, measured.

Each step runs k copies of one job at once on k workers (threads, processes, or, where the
interpreter has them, subinterpreters) and times them. Throughput is jobs per second; the
speed-up is that throughput over one worker's. "Cores busy" is the CPU time the jobs used over
the wall time they took: how many cores really worked at once. With the GIL (the usual CPython
build) the pure-Python job's threads take turns; on a free-threaded build with the GIL off
(3.13t, 3.14t) they run side by side. The hashing job (PBKDF2 in OpenSSL) releases the GIL, so
its threads run side by side on every build. The interpreter is read when the lesson runs
(``pools.free_threading``, ``pools.gil_enabled``) and the claim says which it was and what its
threads did. A Sampler records every core all along, for the heatmap.

Each round runs every worker count once, one after the other, and the speed-up is taken within
a round: on a shared or virtual machine the speed of a core drifts from second to second, and
comparing runs made moments apart cancels most of that drift. The median round is reported.

    python -m corelab parallel [--workers 1 2 4] [--job-seconds 1.0] [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from corelab.claim import Claim
from corelab.harness.quick import pick
from corelab.harness.sampler import Sampler
from corelab.lessons.one_process import pools
from corelab.lessons.one_process.jobs import count_loop, hash_password, timed_job
from corelab.lessons.one_process.pools import interpreter_pool, process_pool, start_workers, thread_pool
from corelab.text_table import Column, text_table
from plumbing.cores import usable_core_count

PURE_THREADS = "threads (pure Python)"
PURE_PROCESSES = "processes (pure Python)"
HASH_THREADS = "threads (hashlib, releases the GIL)"
PURE_INTERPRETERS = "subinterpreters (pure Python)"
TABLE_COLUMNS = ["mode", "job", "workers", "wall_s", "jobs_per_s", "speedup", "cores_busy"]
RAW_COLUMNS = ["mode", "job", "workers", "round", "wall_s", "cpu_s", "t_start", "t_end"]
# The claim's field prefixes: threads_cores_busy, processes_speedup, ...
CLAIM_MODES = {
    "threads": PURE_THREADS,
    "processes": PURE_PROCESSES,
    "hash_threads": HASH_THREADS,
    "interpreters": PURE_INTERPRETERS,
}
# Each mode's pool and job ("python": count_loop, "hash": hash_password).
MODE_RUNS: dict[str, tuple[Callable[[int], Executor], str]] = {
    PURE_THREADS: (thread_pool, "python"),
    PURE_PROCESSES: (process_pool, "python"),
    HASH_THREADS: (thread_pool, "hash"),
    PURE_INTERPRETERS: (interpreter_pool, "python"),
}
# What the pure-Python threads showed, by the interpreter and the numbers (the claim's threads_verdict).
TOOK_TURNS = "took_turns"  # the GIL was on: one thread ran Python at a time
RAN_IN_PARALLEL = "ran_in_parallel"  # no GIL, and they kept more than one core busy
NOT_PARALLEL_HERE = "not_parallel_here"  # no GIL, yet about one core busy (one usable core, or contention)
SEVERAL_CORES = 1.5  # cores busy at or above this is "several cores" on 2 or more workers and cores


def modes_here() -> tuple[list[str], dict[str, str]]:
    """The modes this interpreter runs, in order, and those it cannot, with the reason.

    Three everywhere (threads and processes on pure Python, threads on hashlib); a fourth,
    subinterpreters, where concurrent.futures has InterpreterPoolExecutor (3.14+). A free-threaded
    build adds no mode: it changes what the threads mode shows, so without one the lesson says why.
    """
    modes = [PURE_THREADS, PURE_PROCESSES, HASH_THREADS]
    free, free_why = pools.free_threading()
    skipped = {} if free else {"free-threaded threads": free_why}
    subs, subs_why = pools.subinterpreters()
    if subs:
        modes.append(PURE_INTERPRETERS)
    else:
        skipped["subinterpreters"] = subs_why
    return modes, skipped


def worker_counts(cores: int, most: int = 64) -> tuple[int, ...]:
    """The worker counts to try on ``cores`` usable cores: powers of two up to twice the cores (one
    step past them shows that more workers than cores add nothing), and the core count itself;
    never above ``most``. 2 cores: 1, 2, 4; 12 cores: 1, 2, 4, 8, 12, 16; 64 cores: 1 ... 64."""
    counts = {cores}
    k = 1
    while k <= 2 * cores:
        counts.add(k)
        k *= 2
    return tuple(sorted(c for c in counts if c <= most))


@dataclass(frozen=True)
class ParallelConfig:
    workers: tuple[int, ...] = field(default_factory=lambda: worker_counts(usable_core_count()))
    job_seconds: float = 1.0  # one job's length on one idle core
    sample_interval: float = 0.1
    repeat: int = 3  # rounds; the median is reported


@dataclass
class ParallelResult(Claim):
    """Notebook 06: with the GIL, threads on pure Python keep about one core busy while processes (and
    threads in C code that releases the GIL) keep every core busy, so processes get more done than
    threads; on a free-threaded build with the GIL off, the threads use several cores too. Which of
    the two this run was is in ``gil_enabled`` and ``interpreter``; what the threads did, in
    ``threads_verdict``."""

    table: pd.DataFrame  # mode, job, workers, wall_s, jobs_per_s, speedup, cores_busy (medians over rounds)
    raw: pd.DataFrame  # mode, job, workers, round, wall_s, cpu_s, t_start, t_end: every step run
    cores: pd.DataFrame  # t, core, util_pct (t on the same clock as raw's t_start/t_end)
    skipped: dict[str, str] = field(default_factory=dict)  # mode -> why it was not run
    cores_available: int = 1
    free_threaded: bool = False  # True: the threads ran without a GIL (a 3.13t/3.14t build, GIL off)
    gil_enabled: bool = True  # the GIL was on in this process at the end of the run
    interpreter: str = ""  # e.g. CPython 3.11.7, CPython 3.14.0t (t: a free-threaded build)

    def _at(self, mode: str, workers: int, column: str) -> float:
        row = self.table[(self.table["mode"] == mode) & (self.table["workers"] == workers)]
        return float(row[column].iloc[0]) if not row.empty else float("nan")

    def speedup(self, mode: str, workers: int) -> float:
        return self._at(mode, workers, "speedup")

    def cores_busy(self, mode: str, workers: int) -> float:
        return self._at(mode, workers, "cores_busy")

    @property
    def compared_workers(self) -> int:
        """The worker count the claim is read at: as many as the cores (at least 2), among those measured."""
        counts = sorted(int(k) for k in self.table["workers"].unique())
        return max((k for k in counts if k <= max(2, self.cores_available)), default=counts[-1] if counts else 0)

    def fields(self) -> dict[str, Any]:
        k = self.compared_workers
        numbers: dict[str, Any] = {"workers": k, "cores_available": self.cores_available}
        for key, mode in CLAIM_MODES.items():
            numbers[f"{key}_cores_busy"] = round(self.cores_busy(mode, k), 3)
            numbers[f"{key}_speedup"] = round(self.speedup(mode, k), 3)
        return {
            **numbers,
            "free_threaded": self.free_threaded,
            "gil_enabled": self.gil_enabled,
            "interpreter": self.interpreter,
            "threads_verdict": self.threads_verdict,
            "skipped": sorted(self.skipped),
        }

    @property
    def threads_verdict(self) -> str:
        """What the pure-Python threads showed: TOOK_TURNS under the GIL; without it, RAN_IN_PARALLEL
        when they kept several cores busy, NOT_PARALLEL_HERE when they did not (one usable core)."""
        if self.gil_enabled:
            return TOOK_TURNS
        busy = self.cores_busy(PURE_THREADS, self.compared_workers)
        return RAN_IN_PARALLEL if busy >= SEVERAL_CORES else NOT_PARALLEL_HERE

    def sentence(self) -> str:
        k, f = self.compared_workers, self.fields()
        who = self.interpreter or "this interpreter"
        why = {
            TOOK_TURNS: f"{who} has the GIL on, so they took turns, one at a time",
            RAN_IN_PARALLEL: f"{who} runs them without the GIL, so threads running pure Python used several cores",
            NOT_PARALLEL_HERE: f"{who} runs them without the GIL, yet they kept no more than one core busy here "
            f"(with {self.cores_available} usable core(s))",
        }[self.threads_verdict]
        own = "its own interpreter and GIL" if self.gil_enabled else "its own interpreter"
        lines = [
            f"With {k} workers on {self.cores_available} cores (cores busy = CPU seconds / wall seconds):",
            f"threads running pure Python kept {f['threads_cores_busy']:.2f} cores busy, "
            f"{f['threads_speedup']:.2f}x one thread's jobs/s: {why};",
            f"processes kept {f['processes_cores_busy']:.2f} cores busy, {f['processes_speedup']:.2f}x one "
            f"process's jobs/s: each has {own};",
            f"threads hashing in C (hashlib releases the GIL) kept {f['hash_threads_cores_busy']:.2f} cores busy, "
            f"{f['hash_threads_speedup']:.2f}x.",
        ]
        if PURE_INTERPRETERS in set(self.table["mode"]):
            lines.append(
                f"Subinterpreters (one GIL each) kept {f['interpreters_cores_busy']:.2f} cores busy, "
                f"{f['interpreters_speedup']:.2f}x."
            )
        lines += [f"Not measured here: {mode}: {why}." for mode, why in self.skipped.items()]
        lines.append(
            "On this interpreter: use processes, or C code that releases the GIL, for pure-Python CPU work; "
            "threads are for waiting."
            if self.threads_verdict == TOOK_TURNS
            else "On this interpreter, threads can run pure-Python CPU work on several cores; processes still "
            "give each worker its own memory and survive one worker's crash."
        )
        return "\n".join(lines)

    def summary_table(self) -> str:
        """Every mode and worker count, one line each (what ``python -m corelab parallel`` prints)."""
        columns = [
            Column("mode", 36, left=True),
            Column("workers", 7, "d"),
            Column("wall s", 7, ".2f"),
            Column("jobs/s", 7, ".2f"),
            Column("speed-up", 8, ".2f", "x"),
            Column("cores busy", 10, ".2f"),
        ]
        rows = self.table[["mode", "workers", "wall_s", "jobs_per_s", "speedup", "cores_busy"]].itertuples(index=False)
        return text_table(columns, rows)

    def __repr__(self) -> str:
        return self.summary_table()


# -- the measurement ---------------------------------------------------------------------------


def calibrate(job: Callable[[int], object], seconds: float, probe: int) -> int:
    """How many rounds of ``job`` take ``seconds`` on this core now (best of three probes)."""
    job(probe)  # warm caches
    best = min(_time_call(job, probe) for _ in range(3))
    return max(probe // 10, int(probe * seconds / best))


def _time_call(job: Callable[[int], object], amount: int) -> float:
    started = time.perf_counter()
    job(amount)
    return time.perf_counter() - started


def _run_step(make_pool: Callable[[int], Executor], k: int, job: str, amount: int) -> tuple[float, float, float]:
    """Start k workers, let them start up, then time k jobs at once: (t_start, t_end, CPU seconds used)."""
    with make_pool(k) as pool:
        # Workers start outside the timed part: this measures running, not starting (see spawn_cost).
        start_workers(pool, k)
        started = time.monotonic()
        futures = [pool.submit(timed_job, job, amount) for _ in range(k)]
        cpu = sum(future.result()[2] for future in futures)
        return started, time.monotonic(), cpu


def measure_parallel(config: ParallelConfig | None = None) -> ParallelResult:
    """Run every mode this interpreter offers at each worker count, sampling the cores meanwhile."""
    cfg = config or ParallelConfig()
    rounds = {
        "python": calibrate(count_loop, cfg.job_seconds, 200_000),
        "hash": calibrate(hash_password, cfg.job_seconds, 20_000),
    }
    modes, skipped = modes_here()
    plan = [(mode, MODE_RUNS[mode][0], MODE_RUNS[mode][1], rounds[MODE_RUNS[mode][1]]) for mode in modes]

    rows = []
    sampler = Sampler(interval=cfg.sample_interval)
    t0 = time.monotonic()
    sampler.start()
    try:
        for mode, make_pool, job, amount in plan:
            try:
                for round_ in range(cfg.repeat):
                    for k in cfg.workers:
                        start, end, cpu = _run_step(make_pool, k, job, amount)
                        rows.append((mode, job, k, round_, end - start, cpu, start - t0, end - t0))
            except Exception as exc:  # a mode the interpreter offers but cannot run this job in: say so
                skipped[mode] = f"failed here: {type(exc).__name__}: {exc}"
                rows = [r for r in rows if r[0] != mode]
    finally:
        samples = sampler.stop()
    raw = pd.DataFrame(rows, columns=RAW_COLUMNS)
    return ParallelResult(
        table=summarise(raw),
        raw=raw,
        cores=samples.cores,
        skipped=skipped,
        cores_available=usable_core_count(),
        # Read after the run: a free-threaded build turns the GIL on for good when an extension
        # without free-threading support is imported, and that may have happened meanwhile.
        free_threaded=pools.free_threading()[0],
        gil_enabled=pools.gil_enabled(),
        interpreter=pools.interpreter_name(),
    )


def summarise(raw: pd.DataFrame) -> pd.DataFrame:
    """Per mode and worker count: median wall time, and speed-up and cores busy as medians over rounds."""
    if raw.empty:
        return pd.DataFrame(columns=TABLE_COLUMNS)
    raw = raw.assign(jobs_per_s=raw["workers"] / raw["wall_s"], cores_busy=raw["cpu_s"] / raw["wall_s"])
    # Each round's run with the fewest workers is the base that round's other runs are compared with.
    fewest = raw.loc[raw.groupby(["mode", "round"])["workers"].idxmin()].set_index(["mode", "round"])
    base = [fewest.at[(m, r), "jobs_per_s"] for m, r in zip(raw["mode"], raw["round"], strict=True)]
    raw = raw.assign(speedup=raw["jobs_per_s"] / base)
    table = raw.groupby(["mode", "job", "workers"], sort=False)[["wall_s", "speedup", "cores_busy"]].median()
    table = table.reset_index()
    table["jobs_per_s"] = table["workers"] / table["wall_s"]
    return table[TABLE_COLUMNS]


def run_parallel(
    workers: Sequence[int] | None = None, job_seconds: float | None = None, repeat: int = 3
) -> ParallelResult:
    """The notebook's entry point: QUICK-aware defaults (short jobs under QUICK=1).

    Each step runs ``repeat`` times and the median is kept: on a shared or virtual machine one
    run of a fraction of a second can be slowed by a neighbour, and a single slow run is noise.
    """
    return measure_parallel(
        ParallelConfig(
            workers=tuple(workers or worker_counts(usable_core_count())),
            job_seconds=job_seconds if job_seconds is not None else pick(0.5, 0.2),
            repeat=repeat,
        )
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab parallel``'s options."""
    parser.add_argument(
        "--workers", type=int, nargs="+", help="worker counts to try (default: powers of two up to twice the cores)"
    )
    parser.add_argument("--job-seconds", type=float, default=1.0, help="one job's length on one idle core")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each step; the median is kept (1..9)")
    parser.add_argument("--out", type=Path, help="folder to write table.csv and cores.csv to")


def run_command(args: argparse.Namespace) -> int:
    """The speed-up table; with --out, its tables as CSV."""
    args.workers = args.workers or list(worker_counts(usable_core_count()))
    if any(k < 1 or k > 64 for k in args.workers) or not 0 < args.job_seconds <= 30 or not 1 <= args.repeat <= 9:
        raise ValueError("workers must be in 1..64, --job-seconds in (0, 30] and --repeat in 1..9")
    config = ParallelConfig(workers=tuple(args.workers), job_seconds=args.job_seconds, repeat=args.repeat)
    result = measure_parallel(config)
    print(f"{result.cores_available} usable cores, {pools.describe_gil(result.gil_enabled)}")
    print(result.summary_table())
    print(result.sentence())
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(args.out / "table.csv", index=False)
        result.raw.to_csv(args.out / "raw.csv", index=False)
        result.cores.to_csv(args.out / "cores.csv", index=False)
    return 0
