"""Lab 5's check: two restarts (SIGHUP) under steady CPU load, through a client that never
retries. Not one request may fail, and each restart must replace every worker. Run: make check LAB=05."""

from __future__ import annotations

import itertools
import os
import signal
import sys
import time
from dataclasses import dataclass

from corelab.classroom.labs.harness import LabRun, Server

WORKERS, USERS, SECONDS = 2, 8, 11.0
RESTART_AT_S = (2.5, 6.5)
NEED_REQUESTS = 1000
RESTART_TIMEOUT_S = 3.5


@dataclass
class Restart:
    before: set[int]
    after: set[int]
    took_s: float


def run(lab: LabRun) -> None:
    server = lab.start("your primary", [sys.executable, "primary.py", "--port", "{port}", "--workers", str(WORKERS)])
    restarts: list[Restart] = []
    load = lab.load(
        server,
        path="/work?ms=10",
        users=USERS,
        seconds=SECONDS,
        during=[(at, lambda: restarts.append(_restart(server))) for at in RESTART_AT_S],
    )
    alive = server.process.alive()
    lab.stop(server)

    answered = load.of("load")
    failed = load.failures("load")
    gaps = sorted(r["start_s"] + r["latency_s"] for r in answered if not r["error"])
    longest_pause = max((b - a for a, b in itertools.pairwise(gaps)), default=0.0)
    lab.verdict(
        "no request lost",
        not failed and len(answered) >= NEED_REQUESTS and alive,
        f"{len(failed)} of {len(answered)} requests failed (need 0 of >= {NEED_REQUESTS})"
        + (f": {load.describe_failures('load')}" if failed else "")
        + f"; longest pause between answers {longest_pause * 1000:.0f} ms; load generator "
        f"{load.generator_cpu_pct:.0f}% of a core" + ("" if alive else "; the primary did not survive"),
        "between the old workers' stop and the new ones' start nobody accepts: keep the listening socket open "
        "and replace one worker at a time, starting the new one and waiting until it is ready before "
        "stopping the old one",
    )
    replaced = [r for r in restarts if r.before and len(r.after) == WORKERS and not r.before & r.after]
    lab.verdict(
        "workers replaced",
        len(replaced) == len(RESTART_AT_S),
        "; ".join(
            f"SIGHUP {i + 1}: workers {sorted(r.before)} -> {sorted(r.after)} in {r.took_s:.2f} s"
            for i, r in enumerate(restarts)
        ),
        f"on SIGHUP every worker must be replaced by a new process, within {RESTART_TIMEOUT_S:g} s",
    )


def _restart(server: Server) -> Restart:
    before = {p.pid for p in server.workers()}
    started = time.monotonic()
    os.kill(server.pid, signal.SIGHUP)
    after: set[int] = set()
    while time.monotonic() - started < RESTART_TIMEOUT_S:
        after = {p.pid for p in server.workers()}
        if len(after) == WORKERS and not after & before:
            break
        time.sleep(0.02)
    return Restart(before, after, time.monotonic() - started)
