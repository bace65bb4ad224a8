"""The load balancer's price: its CPU per 1,000 requests and the latency it adds (p50, p99),
against a host hit directly."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from pathlib import Path

from corelab.claim import Claim
from corelab.lessons.fleet.clients import percentile, timed_gets
from corelab.lessons.fleet.handle import HOST_ADDRESSES, running_fleet
from corelab.lessons.fleet.store import fleet_folder, store
from plumbing.procs import cpu_seconds


@dataclass
class BalancerCost(Claim):
    """One client, keep-alive, GET / on a host directly and through Caddy: latency and CPU."""

    requests_per_path: int
    direct_p50_ms: float
    direct_p99_ms: float
    lb_p50_ms: float
    lb_p99_ms: float
    added_p50_ms: float
    added_p99_ms: float
    caddy_cpu_ms_per_1000: float
    host_cpu_ms_per_1000: float
    folder: str = ""

    def sentence(self) -> str:
        return (
            f"Caddy's price: {self.caddy_cpu_ms_per_1000:.0f} ms of CPU per 1,000 requests (the host's own work: "
            f"{self.host_cpu_ms_per_1000:.0f} ms); it added {self.added_p50_ms:.2f} ms at p50 and "
            f"{self.added_p99_ms:.2f} ms at p99 ({self.requests_per_path:,} requests each way)."
        )

    def table(self) -> str:
        """The benchmark's printout (``python -m corelab fleet overhead``)."""
        return (
            f"load balancer (Caddy, keep-alive, GET /, {self.requests_per_path} requests each way, one client):\n"
            f"  direct to a host  p50 {self.direct_p50_ms:.2f} ms  p99 {self.direct_p99_ms:.2f} ms\n"
            f"  through Caddy     p50 {self.lb_p50_ms:.2f} ms  p99 {self.lb_p99_ms:.2f} ms\n"
            f"  added             p50 {self.added_p50_ms:+.2f} ms  p99 {self.added_p99_ms:+.2f} ms\n"
            f"  Caddy's CPU: {self.caddy_cpu_ms_per_1000:.0f} ms per 1,000 requests "
            f"(the host's own: {self.host_cpu_ms_per_1000:.0f} ms per 1,000)"
        )


def measure_cost(requests: int, log_dir: Path, rounds: int = 3) -> BalancerCost:
    """One client, keep-alive, GET / alternately on a host directly and through Caddy, in rounds
    (so that a burst of other work on the machine falls on both paths, not on one)."""
    with running_fleet("--hosts", "2", "--workers", "1", "--lb", "round_robin", log_path=log_dir / "overhead.log") as f:
        host = f.primaries()[HOST_ADDRESSES[0]]
        host_procs = [host, *host.children()]
        caddy = f.caddy()
        direct = http.client.HTTPConnection(HOST_ADDRESSES[0], f.port, timeout=10)
        via_lb = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
        warm = min(200, max(20, requests // 10))
        timed_gets(direct, "/", warm)  # warm-up: connections, caches, Caddy's pool
        timed_gets(via_lb, "/", warm)
        per_round = max(1, requests // rounds)
        direct_ms: list[float] = []
        lb_ms: list[float] = []
        caddy_cpu = host_cpu_direct = 0.0
        for _ in range(rounds):
            before = cpu_seconds(host_procs)
            direct_ms += timed_gets(direct, "/", per_round)
            host_cpu_direct += cpu_seconds(host_procs) - before
            before_caddy = cpu_seconds([caddy])
            lb_ms += timed_gets(via_lb, "/", per_round)
            caddy_cpu += cpu_seconds([caddy]) - before_caddy
        direct.close()
        via_lb.close()
    n = per_round * rounds
    d50, d99 = percentile(direct_ms, 50), percentile(direct_ms, 99)
    l50, l99 = percentile(lb_ms, 50), percentile(lb_ms, 99)
    return BalancerCost(
        requests_per_path=n,
        direct_p50_ms=round(d50, 3),
        direct_p99_ms=round(d99, 3),
        lb_p50_ms=round(l50, 3),
        lb_p99_ms=round(l99, 3),
        added_p50_ms=round(l50 - d50, 3),
        added_p99_ms=round(l99 - d99, 3),
        caddy_cpu_ms_per_1000=round(caddy_cpu * 1000 / n * 1000, 1),
        host_cpu_ms_per_1000=round(host_cpu_direct * 1000 / n * 1000, 1),
    )


def fleet_cost(requests: int = 3000, out: str | Path | None = None) -> BalancerCost:
    """The load balancer's CPU per 1,000 requests and its added latency, against a host hit directly."""
    folder = fleet_folder(out)
    result = measure_cost(requests, folder)
    result.folder = str(folder)
    store(folder, "cost", result)
    return result
