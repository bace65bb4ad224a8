"""Lab 2's check: under CPU load, does /health still answer at once? The starter is measured as
the baseline in the same run, then your server, under the same load. Run: make check LAB=02."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from corelab.classroom.labs.harness import LabRun

# Six users burn 50 ms each, back to back; the probe asks /health 20 times a second.
USERS, WORK_MS, SECONDS = 6, 50, 8.0
PROBE_AFTER_S = 2.5  # the pool has started and the load is steady by then
NEED_LOWER = 5.0


@dataclass
class Measured:
    p50_ms: float
    p99_ms: float
    probes: int
    work_rps: float
    work_p50_ms: float
    failures: str
    generator_pct: float


def run(lab: LabRun) -> None:
    baseline = measure(lab, lab.lab.folder, "the starter")
    lab.note(f"starter: /health p50 {baseline.p50_ms:.0f} ms, p99 {baseline.p99_ms:.0f} ms ({baseline.probes} probes)")
    if lab.code_is_starter:
        lab.note("the code under check is the starter itself: measured once")
        yours = baseline
    else:
        yours = measure(lab, lab.code, "your server")
    ratio = baseline.p99_ms / yours.p99_ms if yours.p99_ms > 0 else 0.0
    lab.verdict(
        "/health under CPU load",
        ratio >= NEED_LOWER,
        f"p99 {yours.p99_ms:.0f} ms (p50 {yours.p50_ms:.0f} ms, {yours.probes} probes) vs the starter's "
        f"{baseline.p99_ms:.0f} ms: {ratio:.1f}x lower (need >= {NEED_LOWER:g}x); /work {yours.work_rps:.0f} req/s "
        f"vs {baseline.work_rps:.0f}; load generator {yours.generator_pct:.0f}% of a core",
        "while burn_cpu runs on the event loop, /health waits; hand it to a ProcessPoolExecutor "
        "(await loop.run_in_executor(pool, burn_cpu, ms)); threads do not help: pure Python holds the GIL",
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
    lab.stop(server)
    return Measured(
        p50_ms=load.percentile_ms(50, "probe"),
        p99_ms=load.percentile_ms(99, "probe"),
        probes=len(load.of("probe")),
        work_rps=load.rps(PROBE_AFTER_S, SECONDS - 0.5),
        work_p50_ms=load.percentile_ms(50, "load", after=PROBE_AFTER_S),
        failures=load.describe_failures("load") + load.describe_failures("probe"),
        generator_pct=load.generator_cpu_pct,
    )
