"""Lesson 12, beyond one machine: hosts behind a real load balancer (servers.fleet), measured.

What a load balancer does for a fleet and what it costs, each a function returning a result
object with the claim's numbers (stored as JSON in its folder, read back with ``load_fleet``):

- ``fleet_spread``    round robin spreads a client's requests over the hosts; ``cookie`` keeps it on one
- ``fleet_failover``  a host SIGKILLed under load: requests lost, time to route around it, its return
- ``fleet_cost``      the load balancer's CPU per 1,000 requests and the latency it adds (p50, p99)
- ``fleet_faults``    the load balancer or Redis SIGKILLed under load: what clients see, nothing hangs

Socket.IO across hosts is the harness's chat scenario against the ``fleet`` variant
(``bench(["fleet"], policies=[...], scenario="chat")``): Locust's users, handshakes and ledger.

The clients here are bounded loops of real requests from this process (http.client,
python-socketio), not Locust: each request's time, outcome and host is kept, which a
time-to-route-around needs. Run alone on the machine (under `flock /tmp/corelab-load.lock`).

    python -m corelab fleet overhead|failover|delivery|faults|all   (the benchmark: every figure, printed)
"""

from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from corelab.results import new_results_dir
from plumbing.procs import ManagedProcess, free_port, python_module
from servers.fleet.config import READY_LINE

HOST_ADDRESSES = ("127.0.0.2", "127.0.0.3")


@dataclass
class FleetHandle:
    """A running ``python -m servers.fleet`` and what its process tree says about it."""

    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []

    def primaries(self) -> dict[str, psutil.Process]:
        """Each host's address -> its cluster primary."""
        found = {}
        for child in self.children():
            cmdline = child.cmdline()
            if "servers.cluster" in cmdline:
                found[cmdline[cmdline.index("--host") + 1]] = child
        return found

    def host_of_worker(self) -> dict[int, str]:
        return {w.pid: address for address, primary in self.primaries().items() for w in primary.children()}

    def caddy(self) -> psutil.Process:
        (caddy,) = [p for p in self.children() if p.name() == "caddy"]
        return caddy

    def redis(self) -> psutil.Process:
        (redis,) = [p for p in self.children() if "redis" in p.name()]
        return redis

    def family(self) -> list[psutil.Process]:
        """The fleet and every process below it, now."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


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


def still_running(procs: Sequence[psutil.Process]) -> list[str]:
    """``name(pid)`` of each process that is still running (a zombie has finished)."""
    left = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                left.append(f"{proc.name()}({proc.pid})")
        except psutil.NoSuchProcess:
            pass
    return left


def _store(folder: Path, name: str, result: Any) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    items = result if isinstance(result, list) else [result]
    (folder / f"{name}.json").write_text(json.dumps([asdict(r) for r in items], indent=2) + "\n")


def _folder(out: str | Path | None) -> Path:
    folder = Path(out) if out is not None else new_results_dir("fleet")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# -- the load balancer spreads requests, or keeps a client on one host --------------------------


@dataclass
class Spread:
    lb: str
    clients: int
    requests_per_client: int
    # Requests each host answered, over all clients.
    requests_per_host: dict[str, int]
    # For each client: requests each host answered.
    per_client: list[dict[str, int]]
    folder: str = ""

    @property
    def hosts_per_client(self) -> list[int]:
        """How many hosts each client's requests reached."""
        return [sum(1 for n in hosts.values() if n) for hosts in self.per_client]


def measure_spread(fleet: FleetHandle, lb: str, clients: int, per_client: int) -> Spread:
    """Each client keeps its cookies (as a browser does) and sends ``per_client`` GET / in turn."""
    host_of = fleet.host_of_worker()
    hosts = sorted(set(host_of.values()))
    per_host = dict.fromkeys(hosts, 0)
    counts = []
    for _ in range(clients):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        mine = dict.fromkeys(hosts, 0)
        for _ in range(per_client):
            with opener.open(f"{fleet.url}/", timeout=10) as resp:
                host = host_of.get(int(resp.headers["X-Worker-Pid"]), "?")
            per_host[host] = per_host.get(host, 0) + 1
            mine[host] = mine.get(host, 0) + 1
        counts.append(mine)
    return Spread(lb, clients, per_client, per_host, counts)


def fleet_spread(requests: int = 20, clients: int = 4, out: str | Path | None = None) -> list[Spread]:
    """Two hosts behind ``round_robin``, then behind ``cookie``: where each client's requests land."""
    folder = _folder(out)
    spreads = []
    for lb in ("round_robin", "cookie"):
        with running_fleet("--hosts", "2", "--workers", "1", "--lb", lb, log_path=folder / f"spread-{lb}.log") as f:
            spreads.append(measure_spread(f, lb, clients, requests))
    for s in spreads:
        s.folder = str(folder)
    _store(folder, "spread", spreads)
    return spreads


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
    folder: str = ""


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
        host = f.primaries()[HOST_ADDRESSES[0]]
        host_procs = [host, *host.children()]
        caddy = f.caddy()
        direct = http.client.HTTPConnection(HOST_ADDRESSES[0], f.port, timeout=10)
        via_lb = http.client.HTTPConnection("127.0.0.1", f.port, timeout=10)
        warm = min(200, max(20, requests // 10))
        _timed_gets(direct, "/", warm)  # warm-up: connections, caches, Caddy's pool
        _timed_gets(via_lb, "/", warm)
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
    d50, d99 = percentile(direct_ms, 50), percentile(direct_ms, 99)
    l50, l99 = percentile(lb_ms, 50), percentile(lb_ms, 99)
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


def fleet_cost(requests: int = 3000, out: str | Path | None = None) -> Overhead:
    """The load balancer's CPU per 1,000 requests and its added latency, against a host hit directly."""
    folder = _folder(out)
    result = measure_overhead(requests, folder)
    result.folder = str(folder)
    _store(folder, "cost", result)
    return result


# -- a host dies under load, and comes back -----------------------------------------------------


@dataclass
class Failover:
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


# One request: when it was sent (monotonic), what came back, the worker pid that answered, its latency.
Outcome = tuple[float, str, int, float]


def _paced_client(port: int, rate: float, stop: threading.Event, out: list[Outcome], lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    interval = 1 / rate
    next_at = time.monotonic()
    while not stop.is_set():
        now = time.monotonic()
        if now < next_at:
            stop.wait(next_at - now)
            continue
        next_at += interval
        sent = time.monotonic()
        pid = 0
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            resp.read()
            pid = int(resp.headers.get("X-Worker-Pid") or 0)
            outcome = "ok" if resp.status == 200 else f"http {resp.status}"
        except (OSError, http.client.HTTPException) as exc:
            outcome = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        with lock:
            out.append((sent, outcome, pid, (time.monotonic() - sent) * 1000))
    conn.close()


@dataclass
class PacedLoad:
    """Requests sent so far (appended by the client threads) and the switch that stops them."""

    results: list[Outcome]
    stop: threading.Event


@contextmanager
def paced_load(port: int, rate: float, clients: int = 4, limit_s: float = 120) -> Iterator[PacedLoad]:
    """``clients`` threads sending GET / through the load balancer at ``rate`` requests/s in all, until
    ``stop`` is set or the block ends (and at most ``limit_s``: a load test stops by itself)."""
    load = PacedLoad([], threading.Event())
    lock = threading.Lock()
    threads = [
        threading.Thread(target=_paced_client, args=(port, rate / clients, load.stop, load.results, lock), daemon=True)
        for _ in range(clients)
    ]
    for t in threads:
        t.start()
    timer = threading.Timer(limit_s, load.stop.set)
    timer.start()
    try:
        yield load
    finally:
        load.stop.set()
        timer.cancel()
        for t in threads:
            t.join()


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
            os.killpg(victim.pid, signal.SIGKILL)
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
    kinds: dict[str, int] = {}
    for _t, outcome in failures:
        kinds[outcome] = kinds.get(outcome, 0) + 1
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
        lost_by_kind=kinds,
        slowest_after_kill_ms=round(slowest, 1),
        back_at_s=round(back_at - killed_at, 3),
        back_after_s=None if first_new is None else round(max(0.0, first_new - back_at), 3),
        timeline_csv=str(timeline),
    )


# Caddy's answer when its selection policy finds no available host.
NO_UPSTREAM = "http 503"

FAILOVER_CASES = (
    ("active only", ["--fail-duration", "0"]),
    ("active + passive", []),
    ("active + passive + retries", ["--try-duration", "2"]),
)
# Without and with passive checks and retries: the two ends, for a short run.
QUICK_FAILOVER_CASES = (FAILOVER_CASES[0], FAILOVER_CASES[2])


def fleet_failover(
    rate: float = 200,
    before_s: float = 2.0,
    down_s: float = 4.0,
    after_s: float = 4.0,
    cases: Sequence[tuple[str, list[str]]] = FAILOVER_CASES,
    out: str | Path | None = None,
) -> list[Failover]:
    """A host SIGKILLed under round-robin load, once per kind of health check; a new host on its address later."""
    folder = _folder(out)
    results = [measure_failover(c, a, rate, folder, before_s, down_s, after_s) for c, a in cases]
    _store(folder, "failover", results)
    return results


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


# -- faults: the load balancer or Redis killed under load ---------------------------------------


@dataclass
class BalancerKill:
    """Caddy SIGKILLed under load: the fleet has lost its only front door."""

    rate_per_s: float
    requests_before: int
    # Requests sent after the kill and how each ended (ConnectionRefusedError: nothing listens).
    after_by_kind: dict[str, int]
    # From the kill to the first refused connection, and to the slowest failure after the kill.
    first_refused_after_s: float | None
    slowest_failure_ms: float
    # The fleet noticed, stopped every host and Redis, and exited: its code and how long it took.
    fleet_exit_code: int | None
    fleet_exited_after_s: float | None
    fleet_said: str
    left_behind: list[str]


def measure_balancer_kill(rate: float, log_dir: Path, before_s: float = 2.0, after_s: float = 2.0) -> BalancerKill:
    with running_fleet("--hosts", "2", "--workers", "1", log_path=log_dir / "fault-balancer.log") as f:
        family = f.family()
        caddy = f.caddy()
        with paced_load(f.port, rate) as load:
            time.sleep(before_s)
            killed_at = time.monotonic()
            caddy.kill()
            code = f.process.wait(30)
            exited_after = time.monotonic() - killed_at
            time.sleep(max(0.0, killed_at + after_s - time.monotonic()))
        left = still_running(family)
        said = [line for line in f.process.log_text().splitlines() if line.startswith("error:")]
    before = [r for r in load.results if r[0] < killed_at]
    after = [r for r in load.results if r[0] >= killed_at]
    kinds: dict[str, int] = {}
    for _t, outcome, _pid, _ms in after:
        kinds[outcome] = kinds.get(outcome, 0) + 1
    refused = [t for t, outcome, _p, _ms in after if outcome == "ConnectionRefusedError"]
    return BalancerKill(
        rate_per_s=rate,
        requests_before=len(before),
        after_by_kind=kinds,
        first_refused_after_s=round(min(refused) - killed_at, 4) if refused else None,
        slowest_failure_ms=round(max((ms for _t, o, _p, ms in after if o != "ok"), default=0.0), 1),
        fleet_exit_code=code,
        fleet_exited_after_s=round(exited_after, 3),
        fleet_said=said[-1] if said else "",
        left_behind=left,
    )


@dataclass
class RedisKill:
    """The fleet's Redis SIGKILLed while two chat clients on two hosts talk and HTTP load runs."""

    # Seconds from the kill: the fleet had a new Redis, and a message crossed hosts again.
    redis_back_after_s: float | None
    cross_host_resumed_after_s: float | None
    # Chat messages (one every message_interval_s from each client) sent from the kill until delivery resumed.
    cross_host_sent_in_gap: int
    cross_host_lost: int
    cross_host_delivered: int
    # Each client's own messages come back from its own host: local delivery does not need Redis.
    same_host_lost: int
    same_host_delivered: int
    http_ok: int
    http_failed: int
    fleet_said: list[str]
    # SIGTERM to the fleet afterwards: its exit code, how long it took, what was left running.
    fleet_exit_code: int | None
    fleet_stopped_after_s: float | None
    left_behind: list[str]


def measure_redis_kill(
    log_dir: Path, before_s: float = 2.0, after_s: float = 6.0, message_interval_s: float = 0.05, rate: float = 50
) -> RedisKill:
    import socketio  # the harness's own client

    with running_fleet("--hosts", "2", "--workers", "1", "--lb", "cookie", log_path=log_dir / "fault-redis.log") as f:
        host_of = f.host_of_worker()
        family = f.family()
        # (sender, seq) -> send time; per client: (sender, seq, receive time)
        sent: dict[tuple[int, int], float] = {}
        got: list[list[tuple[int, int, float]]] = [[], []]
        welcomes: list[int | None] = [None, None]
        socks = []
        try:
            for i in range(2):
                sio = socketio.Client(reconnection=False)
                sio.on("welcome", lambda data, i=i: welcomes.__setitem__(i, data["worker"]))
                sio.on(
                    "chat",
                    lambda data, i=i: got[i].append((*map(int, data["text"].split(":")), time.monotonic())),
                )
                # The cookie's round robin puts the second new client on the other host.
                sio.connect(f.url, wait_timeout=10)
                sio.call("join", {"room": "faults"}, timeout=10)
                socks.append(sio)
            deadline = time.monotonic() + 10
            while None in welcomes and time.monotonic() < deadline:
                time.sleep(0.02)
            hosts = [host_of.get(w or -1) for w in welcomes]
            if len(set(hosts)) != 2:
                raise RuntimeError(f"the two chat clients share a host: {hosts}")
            redis = f.redis()
            with paced_load(f.port, rate, clients=2) as load:
                start = time.monotonic()
                killed_at = start + before_s
                seq = 0
                killed = False
                redis_back: float | None = None
                while time.monotonic() < killed_at + after_s:
                    if not killed and time.monotonic() >= killed_at:
                        killed_at = time.monotonic()
                        redis.kill()
                        killed = True
                    if killed and redis_back is None and _new_redis(f, redis.pid):
                        redis_back = time.monotonic()
                    for i, sio in enumerate(socks):
                        sent[(i, seq)] = time.monotonic()
                        sio.emit("chat", {"room": "faults", "text": f"{i}:{seq}", "seq": seq, "sent_ms": 0})
                    seq += 1
                    time.sleep(message_interval_s)
                time.sleep(1.0)  # the last messages arrive
        finally:
            for sio in socks:
                sio.disconnect()
        said = [line.removeprefix("fleet: ") for line in f.process.log_text().splitlines() if "Redis" in line]
        stopping = time.monotonic()
        code = f.process.stop()
        stopped_after = time.monotonic() - stopping
        left = still_running(family)
    cross = {(s, q): t for r in (0, 1) for s, q, t in got[r] if s != r}
    own = {(s, q) for r in (0, 1) for s, q, _t in got[r] if s == r}
    resumed = min((sent[k] for k in cross if sent[k] > killed_at), default=None)
    gap_end = resumed if resumed is not None else killed_at + after_s
    in_gap = [k for k, t in sent.items() if killed_at <= t < gap_end]
    return RedisKill(
        redis_back_after_s=None if redis_back is None else round(redis_back - killed_at, 3),
        cross_host_resumed_after_s=None if resumed is None else round(resumed - killed_at, 3),
        cross_host_sent_in_gap=len(in_gap),
        cross_host_lost=sum(1 for k in sent if k not in cross),
        cross_host_delivered=len(cross),
        same_host_lost=sum(1 for k in sent if k not in own),
        same_host_delivered=len(own),
        http_ok=sum(1 for r in load.results if r[1] == "ok"),
        http_failed=sum(1 for r in load.results if r[1] != "ok"),
        fleet_said=said,
        fleet_exit_code=code,
        fleet_stopped_after_s=round(stopped_after, 3),
        left_behind=left,
    )


def _new_redis(fleet: FleetHandle, old_pid: int) -> bool:
    return any("redis" in p.name() and p.pid != old_pid for p in fleet.children())


@dataclass
class Faults:
    balancer: BalancerKill
    redis: RedisKill
    folder: str = ""


def fleet_faults(rate: float = 100, out: str | Path | None = None) -> Faults:
    """The load balancer SIGKILLed under load; then, in a new fleet, its Redis SIGKILLed mid-chat."""
    folder = _folder(out)
    result = Faults(measure_balancer_kill(rate, folder), measure_redis_kill(folder))
    result.folder = str(folder)
    _store(folder, "faults", result)
    return result


# -- reading a lesson's folder back -------------------------------------------------------------


@dataclass
class FleetResults:
    """What a folder of fleet measurements holds (each list empty when that part was not run)."""

    spread: list[Spread]
    failover: list[Failover]
    cost: list[Overhead]
    faults: list[Faults]


def load_fleet(folder: str | Path) -> FleetResults:
    folder = Path(folder)

    def read(name: str) -> list[dict[str, Any]]:
        path = folder / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else []

    faults = [Faults(BalancerKill(**f["balancer"]), RedisKill(**f["redis"]), f["folder"]) for f in read("faults")]
    return FleetResults(
        spread=[Spread(**s) for s in read("spread")],
        failover=[Failover(**f) for f in read("failover")],
        cost=[Overhead(**o) for o in read("cost")],
        faults=faults,
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


WHAT = ("overhead", "failover", "delivery", "faults", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=WHAT, help="which measurement (all: every one)")
    parser.add_argument("--requests", type=int, default=3000, help="overhead: requests per path")
    parser.add_argument("--rate", type=float, default=200, help="failover, faults: requests per second")
    parser.add_argument("--clients", type=int, default=10, help="delivery: Socket.IO clients in the room")
    parser.add_argument("--messages", type=int, default=50, help="delivery: messages each client sends")
    parser.add_argument("--out", type=Path, help="folder for logs and figures (default: results/fleet-<time>)")


def run_fleet(args: argparse.Namespace) -> int:
    """Measure, print the figures with the machine they were measured on, and keep them in figures.json."""
    out = _folder(args.out)
    figures: dict[str, Any] = {"machine": _machine()}
    print(f"fleet measurements on {figures['machine']}; logs and figures in {out}")
    if args.what in ("overhead", "all"):
        o = fleet_cost(args.requests, out=out)
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
        results = fleet_failover(args.rate, out=out)
        figures["failover"] = [asdict(r) for r in results]
        for r in results:
            back = "never" if r.back_after_s is None else f"{r.back_after_s:.2f} s"
            print(
                f"  {r.checks:28s} {r.lost:4d} of {r.requests} requests lost, routed around after "
                f"{r.routed_around_after_s:.2f} s, slowest answer {r.slowest_after_kill_ms:.0f} ms; "
                f"a new host served via the LB after {back}  {r.lost_by_kind or ''}"
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
    if args.what in ("faults", "all"):
        faults = fleet_faults(min(args.rate, 100), out=out)
        figures["faults"] = asdict(faults)
        print(describe_faults(faults))
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def describe_faults(faults: Faults) -> str:
    b, r = faults.balancer, faults.redis
    refused = "never" if b.first_refused_after_s is None else f"{b.first_refused_after_s * 1000:.0f} ms"
    return (
        f"\nthe load balancer SIGKILLed under {b.rate_per_s:g} req/s:\n"
        f"  requests after the kill: {b.after_by_kind}; first refused connection {refused} after the kill, "
        f"slowest failure {b.slowest_failure_ms:.0f} ms\n"
        f"  the fleet exited with code {b.fleet_exit_code} {b.fleet_exited_after_s:.2f} s after the kill, "
        f"left running: {', '.join(b.left_behind) or 'nothing'}\n"
        f"  it said: {b.fleet_said}\n"
        f"Redis SIGKILLed mid-chat (2 clients on 2 hosts, HTTP load beside):\n"
        f"  the fleet started a new Redis {r.redis_back_after_s} s after the kill; "
        f"messages crossed hosts again {r.cross_host_resumed_after_s} s after the kill\n"
        f"  across hosts: {r.cross_host_lost} lost, {r.cross_host_delivered} delivered; on the sender's own host: "
        f"{r.same_host_lost} lost, {r.same_host_delivered} delivered\n"
        f"  HTTP meanwhile: {r.http_ok} ok, {r.http_failed} failed; SIGTERM then stopped the fleet in "
        f"{r.fleet_stopped_after_s:.2f} s (code {r.fleet_exit_code}), left running: "
        f"{', '.join(r.left_behind) or 'nothing'}"
    )
