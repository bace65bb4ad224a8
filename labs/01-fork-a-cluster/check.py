"""Lab 1's check: is the primary a cluster? Throughput against one process, a killed worker
replaced, and no worker left when the primary is SIGKILLed. Run: make check LAB=01."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

from corelab.classroom.labs.harness import GENERATOR_BOUND_PCT, LabRun, Server
from corelab.classroom.labs.load import get
from corelab.harness.plan import load_plan

# One worker per usable core and enough users to keep each busy: the kit's load plan for this machine.
PLAN = load_plan("cpu")
WORKERS = PLAN.workers
# The speed-up over one process must reach this share of the plan's limit in cores (the usable
# cores less the load generator's share): 1.55x on 2 cores, 12.7x on 16.
NEED_OF_LIMIT = 0.8
RESPAWN_WITHIN_S = 2.0
PRIMARY_DEATH_WITHIN_S = 2.0
# Each request burns 10 ms of CPU (servers/app.py /work): the server, not the load, is the limit.
SECONDS, WARMUP_S = 7.0, 1.5


def run(lab: LabRun) -> None:
    if PLAN.cores < 2:
        lab.verdict(
            "cores",
            False,
            f"this machine gives the check {PLAN.cores} usable core: lab 1 needs 2 or more to show a cluster's "
            "speed-up",
            "run it on a machine (or a VM) with 2+ cores, without a taskset or a CPU quota that leaves one",
        )
        return
    primary = [sys.executable, "primary.py", "--port", "{port}", "--workers", str(WORKERS)]
    cluster = lab.start("your primary", primary)
    workers = len(cluster.workers())
    yours = lab.load(cluster, users=PLAN.users, seconds=SECONDS)
    lab.stop(cluster)
    single = lab.start("servers.single", [sys.executable, "-m", "servers.single", "--port", "{port}"])
    baseline = lab.load(single, users=PLAN.users, seconds=SECONDS)
    lab.stop(single)
    judge_throughput(
        lab, yours.rps(WARMUP_S, SECONDS - 0.5), baseline.rps(WARMUP_S, SECONDS - 0.5), workers, yours.generator_cpu_pct
    )

    cluster = lab.start("your primary", primary)
    judge_respawn(lab, cluster)
    lab.stop(cluster)
    cluster = lab.start("your primary", primary)
    judge_primary_death(lab, cluster)
    lab.stop(cluster)


def judge_throughput(lab: LabRun, cluster_rps: float, single_rps: float, workers: int, generator: float) -> None:
    speedup = cluster_rps / single_rps if single_rps else 0.0
    need = round(NEED_OF_LIMIT * PLAN.limit_cores, 2)
    lab.verdict(
        "throughput",
        speedup >= need,
        f"{cluster_rps:.0f} req/s with --workers {WORKERS} ({workers} worker(s) seen) vs {single_rps:.0f} req/s "
        f"for servers.single: {speedup:.2f}x (need >= {need:g}x: {NEED_OF_LIMIT:.0%} of this machine's limit, "
        f"{PLAN.limit_cores:.2f} cores); load generator {generator:.0f}% of a core"
        + (" (generator-bound: this measured the load, not the server)" if generator > GENERATOR_BOUND_PCT else ""),
        f"primary.py must fork --workers workers (TODO 1); {workers} were running",
    )


def judge_respawn(lab: LabRun, cluster: Server) -> None:
    before = {p.pid for p in cluster.workers()}
    if not before:
        lab.verdict("respawn", False, "the primary has no worker processes", "spawn() must fork the workers")
        return
    victim = min(before)
    killed_at = time.monotonic()
    os.kill(victim, signal.SIGKILL)
    new_pid, took = None, 0.0
    while new_pid is None and time.monotonic() - killed_at < RESPAWN_WITHIN_S + 1.0:
        # Several at once, each burning CPU: a busy old worker leaves the next connection to a new one.
        pids = asyncio.run(_concurrent(cluster.port, "/work?ms=20", 4))
        new = [pid for pid in pids if pid is not None and pid not in before]
        if new:
            new_pid, took = new[0], time.monotonic() - killed_at
        else:
            time.sleep(0.02)
    if new_pid is None:
        state = "the primary is still running" if cluster.process.alive() else "the primary has exited"
        lab.verdict(
            "respawn",
            False,
            f"SIGKILLed worker {victim}; no new worker answered within {RESPAWN_WITHIN_S + 1:g} s ({state})",
            "the primary must wait for its workers (os.wait) and fork a new one when one dies (TODO 2)",
        )
        return
    lab.verdict(
        "respawn",
        took <= RESPAWN_WITHIN_S,
        f"SIGKILLed worker {victim}; new worker {new_pid} answered {took * 1000:.0f} ms later "
        f"(need <= {RESPAWN_WITHIN_S:g} s)",
        "fork the replacement at once, in the loop that waits for workers",
    )


def judge_primary_death(lab: LabRun, cluster: Server) -> None:
    workers = [p.pid for p in cluster.workers()]
    os.kill(cluster.pid, signal.SIGKILL)
    left = lab.kill_leftovers(cluster, wait=PRIMARY_DEATH_WITHIN_S)
    lab.verdict(
        "no orphans",
        not left,
        f"SIGKILLed the primary; of its {len(workers)} worker(s), {len(left)} still ran "
        f"{PRIMARY_DEATH_WITHIN_S:g} s later" + (f" (pids {', '.join(str(p.pid) for p in left)})" if left else ""),
        "no code runs in a SIGKILLed primary: each worker must ask the kernel to kill it when its parent dies, "
        "prctl(PR_SET_PDEATHSIG, SIGKILL) right after fork on Linux; macOS has no such call, so there a worker "
        "watches os.getppid() or a pipe from the primary (TODO 3, plumbing/lifeline.py's die_with_parent)",
    )


async def _concurrent(port: int, path: str, n: int) -> list[int | None]:
    replies = await asyncio.gather(*(get(port, path, 2.0) for _ in range(n)))
    return [pid for _status, pid, _error in replies]
