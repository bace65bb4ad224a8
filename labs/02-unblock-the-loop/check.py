"""Lab 2's check: under CPU load, does /health still answer at once? The starter is measured as
the baseline in the same run, then your server, under the same load. Run: make check LAB=02.

What a thread pool can do depends on the interpreter (with the GIL its burns take turns with the
loop; on a free-threaded build with the GIL off they do not), and what a bare
``ProcessPoolExecutor()`` starts depends on the start method (fork; forkserver, Linux's default
from Python 3.14, which adds a helper process that forks the workers; spawn on macOS). The check
reads both from the interpreter it runs your server on and says them; the helper is neither a
worker nor a stray: it ends with your server.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from corelab.classroom.labs.harness import LabRun
from corelab.lessons.one_process.pools import START_METHODS, default_start_method, describe_gil, gil_enabled_in_child

# Six users burn 50 ms each, back to back; the probe asks /health 20 times a second.
USERS, WORK_MS, SECONDS = 6, 50, 8.0
PROBE_AFTER_S = 2.5  # the pool has started and the load is steady by then
NEED_LOWER = 5.0
SERVER_IMPORTS = ("aiohttp", "servers.burn", "servers.params")  # what server.py imports: its GIL counts
# multiprocessing's helper processes, by what their command line runs: not pool workers.
HELPERS = {"multiprocessing.forkserver": "forkserver", "multiprocessing.resource_tracker": "resource tracker"}


@dataclass
class ServerProcesses:
    """The server's processes under load: pool workers, and multiprocessing's helpers (not workers)."""

    workers: int = 0
    helpers: list[str] = field(default_factory=list)  # "forkserver", "resource tracker"

    def describe(self) -> str:
        helpers = f" beside multiprocessing's {', '.join(self.helpers)} (not workers)" if self.helpers else ""
        return f"{self.workers} pool worker process(es){helpers}"


@dataclass
class Measured:
    p50_ms: float
    p99_ms: float
    probes: int
    work_rps: float
    work_p50_ms: float
    failures: str
    generator_pct: float
    processes: ServerProcesses


def run(lab: LabRun) -> None:
    gil = gil_enabled_in_child(SERVER_IMPORTS)
    method = default_start_method()
    lab.note(
        f"this Python: {describe_gil(gil)}; a bare ProcessPoolExecutor() here starts its workers by "
        f"{method}: {START_METHODS.get(method, method)}"
    )
    baseline = measure(lab, lab.lab.folder, "the starter")
    lab.note(f"starter: /health p50 {baseline.p50_ms:.0f} ms, p99 {baseline.p99_ms:.0f} ms ({baseline.probes} probes)")
    if lab.code_is_starter:
        lab.note("the code under check is the starter itself: measured once")
        yours = baseline
    else:
        yours = measure(lab, lab.code, "your server")
        lab.note(f"your server under load: {yours.processes.describe()}")
    ratio = baseline.p99_ms / yours.p99_ms if yours.p99_ms > 0 else 0.0
    threads = (
        "threads do not help here: this Python has the GIL on, so pure Python in a thread takes turns with the loop"
        if gil
        else "a ThreadPoolExecutor works too on this free-threaded Python (GIL off), but only a process pool "
        "works on every Python"
    )
    lab.verdict(
        "/health under CPU load",
        ratio >= NEED_LOWER,
        f"p99 {yours.p99_ms:.0f} ms (p50 {yours.p50_ms:.0f} ms, {yours.probes} probes) vs the starter's "
        f"{baseline.p99_ms:.0f} ms: {ratio:.1f}x lower (need >= {NEED_LOWER:g}x); /work {yours.work_rps:.0f} req/s "
        f"vs {baseline.work_rps:.0f}; load generator {yours.generator_pct:.0f}% of a core",
        "while burn_cpu runs on the event loop, /health waits; hand it to a ProcessPoolExecutor "
        f"(await loop.run_in_executor(pool, burn_cpu, ms)); {threads}",
    )
    lab.verdict(
        "/work still does its work",
        not yours.failures and yours.work_p50_ms >= WORK_MS,
        f"/work?ms={WORK_MS}: p50 {yours.work_p50_ms:.0f} ms"
        + (f", failures: {yours.failures}" if yours.failures else ""),
        f"every /work?ms={WORK_MS} must answer 200 after burning {WORK_MS} ms of CPU (look at your server's log)",
    )


def measure(lab: LabRun, code: Path, name: str) -> Measured:
    server = lab.start(name, [sys.executable, "server.py", "--port", "{port}"], cwd=code)
    load = lab.load(
        server,
        path=f"/work?ms={WORK_MS}",
        users=USERS,
        seconds=SECONDS,
        probe_path="/health",
        probe_every=0.05,
        probe_after=PROBE_AFTER_S,
    )
    processes = server_processes(server.pid)  # while the pool is still up: lab.stop ends it
    lab.stop(server)
    return Measured(
        p50_ms=load.percentile_ms(50, "probe"),
        p99_ms=load.percentile_ms(99, "probe"),
        probes=len(load.of("probe")),
        work_rps=load.rps(PROBE_AFTER_S, SECONDS - 0.5),
        work_p50_ms=load.percentile_ms(50, "load", after=PROBE_AFTER_S),
        failures=load.describe_failures("load") + load.describe_failures("probe"),
        generator_pct=load.generator_cpu_pct,
        processes=processes,
    )


def server_processes(pid: int) -> ServerProcesses:
    """The server's children sorted into pool workers and helpers. A forkserver's children are the
    workers (it forks them, and they carry its command line); the forkserver itself is not one."""
    seen = ServerProcesses()
    try:
        children = psutil.Process(pid).children()
    except psutil.Error:
        return seen
    for child in children:
        try:
            command = " ".join(child.cmdline())
            helper = next((name for module, name in HELPERS.items() if module in command), None)
            if helper is None:
                seen.workers += 1
                continue
            seen.helpers.append(helper)
            if helper == "forkserver":
                seen.workers += len(child.children())
        except psutil.Error:  # it ended meanwhile: neither
            continue
    return seen
