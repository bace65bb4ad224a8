"""Benchmarks for the fleet (servers.fleet): what the load balancer costs, how it routes around a dead
host, and whether every message crosses between hosts. Each prints the figures it measured.

python -m corelab.fleet_bench overhead [--requests 3000]    Caddy's CPU per 1,000 requests, latency added
python -m corelab.fleet_bench failover [--rate 200]         a host SIGKILLed under load: requests lost, time to recover
python -m corelab.fleet_bench delivery [--clients 10] [--messages 50]
                                                            Socket.IO across two hosts (cookie): deliveries, p50/p99
python -m corelab.fleet_bench all

The clients are bounded loops of real requests from this process (http.client, python-socketio),
not Locust: each request's latency and outcome is kept, which a time-to-route-around needs.
Run alone on the machine (e.g. under `flock /tmp/corelab-load.lock`): they measure time.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psutil

from corelab.procs import PROJECT_ROOT, ManagedProcess, free_port, python_module
from servers.fleet.config import READY_LINE


@dataclass
class FleetHandle:
    """A running ``python -m servers.fleet`` and what its process tree says about it."""

    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def primaries(self) -> dict[str, psutil.Process]:
        found = {}
        for child in psutil.Process(self.process.pid).children():
            cmdline = child.cmdline()
            if "servers.cluster" in cmdline:
                found[cmdline[cmdline.index("--host") + 1]] = child
        return found

    def host_of_worker(self) -> dict[int, str]:
        return {w.pid: address for address, primary in self.primaries().items() for w in primary.children()}

    def caddy(self) -> psutil.Process:
        (caddy,) = [p for p in psutil.Process(self.process.pid).children() if p.name() == "caddy"]
        return caddy


@contextmanager
def running_fleet(*args: str, log_path: Path) -> Iterator[FleetHandle]:
    """The fleet's own output goes to ``log_path``; its hosts', Redis's and Caddy's logs beside it."""
    port = free_port()
    keep = log_path.with_suffix("")
    argv = python_module("servers.fleet", "--port", str(port), "--log-dir", str(keep), *args)
    with ManagedProcess(argv, log_path=log_path, grace=15.0, die_with_parent=True) as process:
        deadline = time.monotonic() + 60
        while READY_LINE not in process.log_text():
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fleet did not start:\n{process.log_text()}")
            time.sleep(0.05)
        yield FleetHandle(port, process)


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def cpu_seconds(procs: Sequence[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


# -- the load balancer's cost -------------------------------------------------------------------


@dataclass
class Overhead:
    requests_per_path: int
    direct_p50_ms: float
    direct_p99_ms: float
    lb_p50_ms: float
    lb_p99_ms: float
    added_p50_ms: float
    added_p99_ms: float
    caddy_cpu_ms_per_1000: float
    host_cpu_ms_per_1000: float


def _timed_gets(conn: http.client.HTTPConnection, path: str, n: int) -> list[float]:
    latencies = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {path}: {resp.status}")
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def measure_overhead(requests: int, log_dir: Path, rounds: int = 3) -> Overhead:
    """One client, keep-alive, GET / alternately on a host directly and through Caddy, in rounds."""
    with running_fleet("--hosts", "2", "--workers", "1", "--lb", "round_robin", log_path=log_dir / "overhead.log") as f:
        primaries = f.primaries()
        host = primaries["127.0.0.2"]
        host_procs = [host, *host.children()]
        caddy = f.caddy()
        direct = http.client.HTTPConnection("127.0.0.2", f.port, timeout=10)
        via_lb = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
        _timed_gets(direct, "/", 200)  # warm-up: connections, caches, Caddy's pool
        _timed_gets(via_lb, "/", 200)
        per_round = max(1, requests // rounds)
        direct_ms: list[float] = []
        lb_ms: list[float] = []
        caddy_cpu = host_cpu_direct = 0.0
        for _ in range(rounds):
            before = cpu_seconds(host_procs)
            direct_ms += _timed_gets(direct, "/", per_round)
            host_cpu_direct += cpu_seconds(host_procs) - before
            before_caddy = cpu_seconds([caddy])
            lb_ms += _timed_gets(via_lb, "/", per_round)
            caddy_cpu += cpu_seconds([caddy]) - before_caddy
        direct.close()
        via_lb.close()
    n = per_round * rounds
    d50, d99, l50, l99 = (
        percentile(direct_ms, 50),
        percentile(direct_ms, 99),
        percentile(lb_ms, 50),
        percentile(lb_ms, 99),
    )
    return Overhead(
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


# -- a host dies under load ---------------------------------------------------------------------


@dataclass
class Failover:
    checks: str
    fleet_args: list[str]
    rate_per_s: float
    requests: int
    lost: int
    # From the SIGKILL to the last failed request (0 when none failed).
    routed_around_after_s: float
    lost_by_kind: dict[str, int] = field(default_factory=dict)


def _paced_client(url_port: int, rate: float, until: float, out: list[tuple[float, str]], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=5)
    interval = 1 / rate
    next_at = time.monotonic()
    while True:
        now = time.monotonic()
        if now >= until:
            break
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        sent = time.monotonic()
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            outcome = "ok" if resp.status == 200 else f"http {resp.status}"
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", url_port, timeout=5)
        with lock:
            out.append((sent, outcome))
    conn.close()


def measure_failover(checks: str, fleet_args: list[str], rate: float, log_dir: Path, before_s: float = 2.0,
                     after_s: float = 5.0, clients: int = 4) -> Failover:  # fmt: skip
    """Round robin over 2 hosts at ``rate`` requests/s; host 2 SIGKILLed (primary and workers) mid-run."""
    args = ["--hosts", "2", "--workers", "1", "--lb", "round_robin", "--health-interval", "1", *fleet_args]
    slug = checks.replace(" ", "").replace("+", "-")
    with running_fleet(*args, log_path=log_dir / f"failover-{slug}.log") as f:
        victim = f.primaries()["127.0.0.3"]
        results: list[tuple[float, str]] = []
        lock = threading.Lock()
        until = time.monotonic() + before_s + after_s
        threads = [
            threading.Thread(target=_paced_client, args=(f.port, rate / clients, until, results, lock))
            for _ in range(clients)
        ]
        for t in threads:
            t.start()
        time.sleep(before_s)
        killed_at = time.monotonic()
        os.killpg(victim.pid, signal.SIGKILL)
        for t in threads:
            t.join()
    # Raw outcomes, seconds from the SIGKILL: one row per request.
    rows = "".join(f"{t - killed_at:.4f},{outcome}\n" for t, outcome in sorted(results))
    (log_dir / f"failover-{slug}.csv").write_text("t_from_kill_s,outcome\n" + rows)
    failures = [(t, outcome) for t, outcome in results if outcome != "ok"]
    kinds: dict[str, int] = {}
    for _t, outcome in failures:
        kinds[outcome] = kinds.get(outcome, 0) + 1
    last = max((t for t, _ in failures), default=killed_at)
    return Failover(
        checks=checks,
        fleet_args=fleet_args,
        rate_per_s=round(len(results) / (before_s + after_s), 1),
        requests=len(results),
        lost=len(failures),
        routed_around_after_s=round(max(0.0, last - killed_at), 3),
        lost_by_kind=kinds,
    )


FAILOVER_CASES = (
    ("active only", ["--fail-duration", "0"]),
    ("active + passive", []),
    ("active + passive + retries", ["--try-duration", "2"]),
)


# -- Socket.IO across hosts ---------------------------------------------------------------------


@dataclass
class Delivery:
    clients: int
    hosts_used: int
    messages_sent: int
    expected: int
    delivered: int
    ratio: float
    cross_host_expected: int
    cross_host_delivered: int
    p50_ms: float
    p99_ms: float
    cross_host_p50_ms: float
    cross_host_p99_ms: float


def measure_delivery(clients: int, messages: int, log_dir: Path, pace_s: float = 0.005) -> Delivery:
    """Clients in one room, spread over two hosts by the cookie; each sends ``messages``; all receive all."""
    import socketio  # the harness's own client; servers never import the harness

    args = ["--hosts", "2", "--workers", "2", "--lb", "cookie"]
    with running_fleet(*args, log_path=log_dir / "delivery.log") as f:
        host_of = f.host_of_worker()
        received: list[list[dict[str, Any]]] = [[] for _ in range(clients)]
        welcomes: list[int | None] = [None] * clients
        socks = []
        try:
            for i in range(clients):
                sio = socketio.Client(reconnection=False)
                sio.on("welcome", lambda data, i=i: welcomes.__setitem__(i, data["worker"]))
                sio.on("chat", lambda data, i=i: received[i].append({**data, "recv_ms": time.time() * 1000}))
                sio.connect(f.url, wait_timeout=10)
                sio.call("join", {"room": "fleet"}, timeout=10)
                socks.append(sio)
            deadline = time.monotonic() + 10
            while None in welcomes and time.monotonic() < deadline:
                time.sleep(0.02)
            sender_host = {i: host_of.get(w or -1, "?") for i, w in enumerate(welcomes)}
            for seq in range(messages):
                for i, sio in enumerate(socks):
                    text = f"{i}:{seq}"
                    sio.emit("chat", {"room": "fleet", "text": text, "seq": seq, "sent_ms": time.time() * 1000})
                    time.sleep(pace_s)
            expected = clients * messages * clients
            deadline = time.monotonic() + 15
            while sum(map(len, received)) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            for sio in socks:
                sio.disconnect()
    latencies, cross = [], []
    cross_expected = 0
    for recipient in range(clients):
        for sender in range(clients):
            if sender_host[sender] != sender_host[recipient]:
                cross_expected += messages
        seen = set()
        for m in received[recipient]:
            if m["text"] in seen:
                continue
            seen.add(m["text"])
            ms = m["recv_ms"] - m["sent_ms"]
            latencies.append(ms)
            if sender_host[int(m["text"].split(":")[0])] != sender_host[recipient]:
                cross.append(ms)
    delivered = len(latencies)
    return Delivery(
        clients=clients,
        hosts_used=len(set(sender_host.values())),
        messages_sent=clients * messages,
        expected=expected,
        delivered=delivered,
        ratio=round(delivered / expected, 5),
        cross_host_expected=cross_expected,
        cross_host_delivered=len(cross),
        p50_ms=round(percentile(latencies, 50), 2),
        p99_ms=round(percentile(latencies, 99), 2),
        cross_host_p50_ms=round(percentile(cross, 50), 2),
        cross_host_p99_ms=round(percentile(cross, 99), 2),
    )


# -- the command --------------------------------------------------------------------------------


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{psutil.cpu_count()} vCPU {model}, Python {sys.version.split()[0]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m corelab.fleet_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("overhead", "failover", "delivery", "all"))
    parser.add_argument("--requests", type=int, default=3000, help="overhead: requests per path")
    parser.add_argument("--rate", type=float, default=200, help="failover: requests per second")
    parser.add_argument("--clients", type=int, default=10, help="delivery: Socket.IO clients in the room")
    parser.add_argument("--messages", type=int, default=50, help="delivery: messages each client sends")
    args = parser.parse_args(argv)
    out = PROJECT_ROOT / "results" / f"{datetime.now():%Y%m%d-%H%M%S}-fleet-{args.what}"
    out.mkdir(parents=True, exist_ok=True)
    figures: dict[str, Any] = {"machine": _machine()}
    print(f"fleet_bench on {figures['machine']}; logs and figures in {out}")
    if args.what in ("overhead", "all"):
        o = measure_overhead(args.requests, out)
        figures["overhead"] = asdict(o)
        print(
            f"\nload balancer (Caddy, keep-alive, GET /, {o.requests_per_path} requests each way, one client):\n"
            f"  direct to a host  p50 {o.direct_p50_ms:.2f} ms  p99 {o.direct_p99_ms:.2f} ms\n"
            f"  through Caddy     p50 {o.lb_p50_ms:.2f} ms  p99 {o.lb_p99_ms:.2f} ms\n"
            f"  added             p50 {o.added_p50_ms:+.2f} ms  p99 {o.added_p99_ms:+.2f} ms\n"
            f"  Caddy's CPU: {o.caddy_cpu_ms_per_1000:.0f} ms per 1,000 requests "
            f"(the host's own: {o.host_cpu_ms_per_1000:.0f} ms per 1,000)"
        )
    if args.what in ("failover", "all"):
        print(f"\na host SIGKILLed under {args.rate:g} req/s (round robin over 2 hosts, active checks every 1 s):")
        figures["failover"] = []
        for checks, fleet_args in FAILOVER_CASES:
            r = measure_failover(checks, fleet_args, args.rate, out)
            figures["failover"].append(asdict(r))
            print(
                f"  {checks:28s} {r.lost:4d} of {r.requests} requests lost, routed around after "
                f"{r.routed_around_after_s:.2f} s  {r.lost_by_kind or ''}"
            )
    if args.what in ("delivery", "all"):
        d = measure_delivery(args.clients, args.messages, out)
        figures["delivery"] = asdict(d)
        print(
            f"\nSocket.IO across hosts (cookie, 2 hosts x 2 workers, {d.clients} clients on {d.hosts_used} hosts, "
            f"{d.messages_sent} messages):\n"
            f"  {d.delivered} of {d.expected} deliveries ({d.ratio:.2%}); across hosts "
            f"{d.cross_host_delivered} of {d.cross_host_expected}\n"
            f"  latency p50 {d.p50_ms:.1f} ms  p99 {d.p99_ms:.1f} ms; across hosts p50 {d.cross_host_p50_ms:.1f} ms "
            f"p99 {d.cross_host_p99_ms:.1f} ms"
        )
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
