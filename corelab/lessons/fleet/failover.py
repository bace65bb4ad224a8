"""A host SIGKILLed under round-robin load, and a new one on its address: the requests lost, how
long until the load balancer routes around the dead host, and how soon the new one gets requests.
Once per kind of health check (active; active + passive; active + passive + retries)."""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from corelab.claim import Claim
from corelab.lessons.fleet.clients import paced_load
from corelab.lessons.fleet.handle import HOST_ADDRESSES, running_fleet
from corelab.lessons.fleet.store import fleet_folder, store
from plumbing.procs import ManagedProcess, python_module

# Caddy's answer when its selection policy finds no available host.
NO_UPSTREAM = "http 503"

# (the health checks, in words; the fleet's flags for them)
FAILOVER_CASES = (
    ("active only", ["--fail-duration", "0"]),
    ("active + passive", []),
    ("active + passive + retries", ["--try-duration", "2"]),
)
# Without and with passive checks and retries: the two ends, for a short run.
QUICK_FAILOVER_CASES = (FAILOVER_CASES[0], FAILOVER_CASES[2])


@dataclass
class Failover(Claim):
    """One kind of health check: what a host's SIGKILL under load cost, and its replacement's return."""

    checks: str
    fleet_args: list[str]
    rate_per_s: float
    requests: int
    lost: int
    # From the SIGKILL to the last request that failed on the dead host (Caddy's 502: it could not
    # reach it; 0 when none failed). Caddy's scattered "503 no upstreams available" while the other
    # host serves are counted in lost_by_kind, not here: they are not the dead host's.
    routed_around_after_s: float
    lost_by_kind: dict[str, int] = field(default_factory=dict)
    # The slowest answered request in the first 3 s after the kill (retries wait for another host).
    slowest_after_kill_ms: float = 0.0
    # A new host on the dead one's address: seconds from it serving to its first request via the LB.
    back_at_s: float | None = None
    back_after_s: float | None = None
    timeline_csv: str = ""

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "lost_by_kind": dict(self.lost_by_kind)}

    def sentence(self) -> str:
        back = "never" if self.back_after_s is None else f"{self.back_after_s:.2f} s"
        kinds = f" ({', '.join(f'{k}: {n}' for k, n in self.lost_by_kind.items())})" if self.lost_by_kind else ""
        if not self.lost:
            failed = f"none of {self.requests} requests failed"
        elif self.routed_around_after_s > 0:
            failed = (
                f"{self.lost} of {self.requests} requests failed{kinds}, the last on the dead host "
                f"{self.routed_around_after_s:.2f} s after the kill"
            )
        else:
            failed = f"{self.lost} of {self.requests} requests failed{kinds}, none on the dead host"
        return (
            f"host killed, {self.checks}: {failed}; "
            f"slowest answer {self.slowest_after_kill_ms:.0f} ms; the new host got requests {back} after it served"
        )


@dataclass
class FleetFailover(Claim):
    """A host killed under load, once per kind of health check (``cases``, in the order run)."""

    cases: list[Failover]
    folder: str = ""

    def fields(self) -> dict[str, Any]:
        return {"by_checks": {case.checks: case.fields() for case in self.cases}}

    def sentence(self) -> str:
        return "\n".join(f"{case.sentence()}." for case in self.cases)

    def table(self) -> str:
        """The benchmark's printout (``python -m corelab fleet failover``): one line per kind of check."""
        lines = []
        for r in self.cases:
            back = "never" if r.back_after_s is None else f"{r.back_after_s:.2f} s"
            lines.append(
                f"  {r.checks:28s} {r.lost:4d} of {r.requests} requests lost, routed around after "
                f"{r.routed_around_after_s:.2f} s, slowest answer {r.slowest_after_kill_ms:.0f} ms; "
                f"a new host served via the LB after {back}  {r.lost_by_kind or ''}"
            )
        return "\n".join(lines)


def _wait_serving(url: str, proc: ManagedProcess, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if not proc.alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the replacement host did not serve:\n{proc.log_text()}")
        time.sleep(0.05)


def measure_failover(
    checks: str,
    fleet_args: list[str],
    rate: float,
    log_dir: Path,
    before_s: float = 2.0,
    down_s: float = 4.0,
    after_s: float = 4.0,
    clients: int = 4,
) -> Failover:
    """Round robin over 2 hosts at ``rate`` requests/s; host 2 SIGKILLed (primary and workers) ``before_s``
    into the load; ``down_s`` later a new host starts on its address and the load runs ``after_s`` more."""
    args = ["--hosts", "2", "--workers", "1", "--lb", "round_robin", "--health-interval", "1", *fleet_args]
    slug = checks.replace(" ", "").replace("+", "-")
    with running_fleet(*args, log_path=log_dir / f"failover-{slug}.log") as f:
        victim = f.primaries()[HOST_ADDRESSES[1]]
        survivors = {w.pid for w in f.primaries()[HOST_ADDRESSES[0]].children()}
        victims = {w.pid for w in victim.children()}
        replacement_pids: set[int] = set()
        with paced_load(f.port, rate, clients) as load:
            time.sleep(before_s)
            killed_at = time.monotonic()
            os.killpg(victim.pid, signal.SIGKILL)  # the host's primary and its workers: the machine is gone
            time.sleep(down_s)
            cmd = python_module(
                "servers.cluster", "--policy", "sticky", "--host", HOST_ADDRESSES[1], "--port", str(f.port),
                "--workers", "1",
            )  # fmt: skip
            with ManagedProcess(cmd, log_path=log_dir / f"failover-{slug}-new-host.log", die_with_parent=True) as new:
                _wait_serving(f"http://{HOST_ADDRESSES[1]}:{f.port}/health", new)
                back_at = time.monotonic()
                replacement_pids = {c.pid for c in psutil.Process(new.pid).children()}
                time.sleep(after_s)
                # The clients stop before the new host does.
                load.stop.set()
                stop_at = time.monotonic()
    outcomes = sorted(load.results)

    def host_label(pid: int) -> str:
        if pid in survivors:
            return "host 1"
        if pid in victims:
            return "host 2"
        if pid in replacement_pids:
            return "host 2 (new)"
        return "-"

    rows = "".join(f"{t - killed_at:.4f},{outcome},{host_label(pid)},{ms:.2f}\n" for t, outcome, pid, ms in outcomes)
    timeline = log_dir / f"failover-{slug}.csv"
    timeline.write_text("t_from_kill_s,outcome,host,latency_ms\n" + rows)
    failures = [(t, o) for t, o, _p, _ms in outcomes if o != "ok"]
    last = max((t for t, o in failures if t < back_at and o != NO_UPSTREAM), default=killed_at)
    slowest = max((ms for t, o, _p, ms in outcomes if o == "ok" and killed_at <= t < killed_at + 3), default=0.0)
    first_new = min((t for t, o, p, _ms in outcomes if o == "ok" and p in replacement_pids), default=None)
    return Failover(
        checks=checks,
        fleet_args=fleet_args,
        rate_per_s=round(len(outcomes) / max(1e-9, stop_at - outcomes[0][0]), 1) if outcomes else 0.0,
        requests=len(outcomes),
        lost=len(failures),
        routed_around_after_s=round(max(0.0, last - killed_at), 3),
        lost_by_kind=dict(Counter(o for _t, o in failures)),
        slowest_after_kill_ms=round(slowest, 1),
        back_at_s=round(back_at - killed_at, 3),
        back_after_s=None if first_new is None else round(max(0.0, first_new - back_at), 3),
        timeline_csv=str(timeline),
    )


def fleet_failover(
    rate: float = 200,
    before_s: float = 2.0,
    down_s: float = 4.0,
    after_s: float = 4.0,
    cases: Sequence[tuple[str, list[str]]] = FAILOVER_CASES,
    out: str | Path | None = None,
) -> FleetFailover:
    """A host SIGKILLed under round-robin load, once per kind of health check; a new host on its address later."""
    folder = fleet_folder(out)
    results = [measure_failover(c, a, rate, folder, before_s, down_s, after_s) for c, a in cases]
    store(folder, "failover", results)
    return FleetFailover(results, folder=str(folder))
