"""Socket.IO chat on every variant, with real servers, real Socket.IO clients and a real Redis.

The failures are asserted as much as the fixes: a plain cluster breaks the long-polling
handshake, sticky routing connects everyone but loses the messages between workers, and the
Redis adapter delivers them all, except (at most once) while Redis is away.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
import socketio

from plumbing.redis_server import RedisServer
from servers.session_ids import owner_pid

pytestmark = pytest.mark.timeout(90)


class ChatClient:
    """A real python-socketio client that records what the server sends it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.sio = socketio.AsyncClient(reconnection=False)
        self.worker: int | None = None
        self.received: list[dict[str, Any]] = []
        self.errors: list[dict[str, Any]] = []
        self.sio.on("welcome", self._welcome)
        self.sio.on("chat", self.received.append)
        self.sio.on("error", self.errors.append)

    def _welcome(self, data: dict[str, Any]) -> None:
        self.worker = data["worker"]

    async def connect(self, url: str, transports: list[str] | None = None) -> ChatClient:
        await self.sio.connect(url, transports=transports, wait_timeout=5)
        await _until(lambda: self.worker is not None, 5, f"{self.name} got no welcome")
        return self

    async def join(self, room: str) -> dict[str, Any]:
        return await self.sio.call("join", {"room": room}, timeout=5)

    async def say(self, room: str, text: str, seq: int) -> dict[str, Any]:
        return await self.sio.call(
            "chat", {"room": room, "text": text, "seq": seq, "sent_ms": time.time() * 1000}, timeout=5
        )

    def texts(self) -> set[str]:
        return {m["text"] for m in self.received}


async def _until(check: Callable[[], bool], seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(why)
        await asyncio.sleep(0.05)


async def _connect_all(url: str, n: int, room: str, transports: list[str] | None = None) -> list[ChatClient]:
    clients = [await ChatClient(f"c{i}").connect(url, transports) for i in range(n)]
    for c in clients:
        assert (await c.join(room))["room"] == room
    return clients


async def _disconnect_all(clients: list[ChatClient]) -> None:
    for c in clients:
        await c.sio.disconnect()
    await asyncio.sleep(0.1)


def _raw_polling_handshake(url: str) -> tuple[str, int, str]:
    """Open a session and connect to the namespace, each request on a new connection (as a
    browser does when its connections are busy). Returns (sid, status of the 2nd request, its body)."""
    with urllib.request.urlopen(f"{url}/socket.io/?EIO=4&transport=polling", timeout=5) as r:
        sid = json.loads(r.read().decode()[1:])["sid"]
    post = urllib.request.Request(f"{url}/socket.io/?EIO=4&transport=polling&sid={sid}", data=b"40", method="POST")
    try:
        with urllib.request.urlopen(post, timeout=5) as r:
            return sid, r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return sid, exc.code, exc.read().decode()


# -- the protocol, on one process -------------------------------------------------------------


def test_protocol_welcome_join_chat_and_bad_events(serve) -> None:
    server = serve("single")

    async def scenario() -> None:
        a, b = await _connect_all(server.url, 2, "lobby")
        assert a.worker == b.worker == int(urllib.request.urlopen(f"{server.url}/health").headers["X-Worker-Pid"])
        assert await a.say("lobby", "hello", 1) == {"ok": True}
        await _until(lambda: len(b.received) == 1 and len(a.received) == 1, 5, "the message did not reach the room")
        msg = b.received[0]
        assert msg["text"] == "hello" and msg["seq"] == 1 and msg["room"] == "lobby"
        assert msg["from"] == a.sio.get_sid() and msg["worker"] == a.worker
        assert isinstance(msg["sent_ms"], float)

        # Bad events: an error event naming the problem, and the connection keeps working.
        assert "error" in await a.sio.call("join", "lobby", timeout=5)
        assert "error" in await a.sio.call("join", {"room": "x" * 65}, timeout=5)
        assert "join room 'elsewhere'" in (await a.say("elsewhere", "hi", 2))["error"]
        bad_seq = await a.sio.call("chat", {"room": "lobby", "text": "t", "seq": "one", "sent_ms": 1}, timeout=5)
        assert '"seq"' in bad_seq["error"]
        bad_text = await a.sio.call("chat", {"room": "lobby", "text": None, "seq": 3, "sent_ms": 1}, timeout=5)
        assert '"text"' in bad_text["error"]
        await a.sio.emit("shout", {"x": 1})
        await _until(lambda: any(e["event"] == "shout" for e in a.errors), 5, "no error for an unknown event")
        assert {e["event"] for e in a.errors} >= {"join", "chat", "shout"}
        assert await a.say("lobby", "still here", 4) == {"ok": True}
        await _until(lambda: "still here" in b.texts(), 5, "the server stopped delivering after bad events")
        assert len(b.received) == 2  # the rejected messages reached no one
        await _disconnect_all([a, b])

    asyncio.run(scenario())
    assert "Traceback" not in server.log()


def test_chat_page_uses_the_vendored_client(serve) -> None:
    server = serve("single")
    page = urllib.request.urlopen(f"{server.url}/chat").read().decode()
    assert '<script src="/static/socket.io.min.js"></script>' in page
    assert "https://" not in page and "http://" not in page  # no CDN at run time
    client = urllib.request.urlopen(f"{server.url}/static/socket.io.min.js").read().decode()
    assert client.startswith("/*!\n * Socket.IO v4.") and "MIT License" in client[:200]


# -- a plain cluster: the long-polling handshake breaks ---------------------------------------


def test_cluster_breaks_the_long_polling_handshake(serve) -> None:
    server = serve("cluster", "--workers", "2", "--policy", "rr")
    results = [_raw_polling_handshake(server.url) for _ in range(10)]
    failed = [body for _sid, status, body in results if status == 400]
    # rr hands each new connection to the other worker: the second request finds no session there.
    assert len(failed) >= 8, results
    assert all("Invalid session" in body for body in failed)


# -- sticky: every client connects; messages between workers are lost --------------------------


def test_sticky_routes_every_request_of_a_session_to_its_worker(serve) -> None:
    server = serve("sticky", "--workers", "2", ready_line="cluster ready")
    results = [_raw_polling_handshake(server.url) for _ in range(10)]
    assert [status for _sid, status, _body in results] == [200] * 10, results
    owners = {owner_pid(sid) for sid, _status, _body in results}
    assert len(owners) == 2 and None not in owners  # new sessions spread over both workers


def test_sticky_connects_everyone_but_loses_cross_worker_messages(serve) -> None:
    server = serve("sticky", "--workers", "2", ready_line="cluster ready")

    async def scenario() -> None:
        # Default transports: long-polling first, then the upgrade to WebSocket.
        clients = await _connect_all(server.url, 6, "room")
        workers = {c.worker for c in clients}
        assert len(workers) == 2, "new sessions should spread over both workers"
        assert {c.sio.transport() for c in clients} == {"websocket"}
        for i, c in enumerate(clients):
            assert await c.say("room", f"from {c.name}", i) == {"ok": True}
        await asyncio.sleep(1.0)
        for receiver in clients:
            same = {f"from {c.name}" for c in clients if c.worker == receiver.worker}
            # Everything from the receiver's own worker arrives; nothing from the other.
            assert receiver.texts() == same, (receiver.name, receiver.texts(), same)
        await _disconnect_all(clients)

    asyncio.run(scenario())


def test_sticky_answers_421_for_another_workers_session_on_a_reused_connection(serve) -> None:
    """The keep-alive case: a connection routed for one request must not serve another worker's session."""
    server = serve("sticky", "--workers", "2", ready_line="cluster ready")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        reader = conn.makefile("rb")
        conn.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _body = _read_response(reader)
        assert status == 200
        this_worker = int(headers["x-worker-pid"])
        # A session owned by the other worker, opened on connections of its own.
        for _ in range(10):
            sid, status, _ = _raw_polling_handshake(server.url)
            if owner_pid(sid) != this_worker:
                break
        assert owner_pid(sid) != this_worker
        conn.sendall(f"GET /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        status, headers, body = _read_response(reader)
    assert status == 421
    assert headers.get("connection", "").lower() == "close"
    assert f"belongs to worker {owner_pid(sid)}" in json.loads(body)["error"]


def _read_response(reader: Any) -> tuple[int, dict[str, str], bytes]:
    status = int(reader.readline().split()[1])
    headers = {}
    while (line := reader.readline().decode().strip()) != "":
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, reader.read(int(headers.get("content-length", "0")))


def test_sticky_refuses_another_policy(serve) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "servers.sticky", "--policy", "rr"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode != 0 and "--policy must be sticky" in done.stderr


# -- pubsub: every message arrives; while Redis is away, only same-worker ones -----------------


def test_pubsub_delivers_every_message_across_workers(serve, redis_server: RedisServer) -> None:
    server = serve("pubsub", "--workers", "2", "--redis-url", redis_server.url, ready_line="cluster ready")

    async def scenario() -> None:
        clients = await _connect_all(server.url, 6, "room")
        assert len({c.worker for c in clients}) == 2
        for i, c in enumerate(clients):
            await c.say("room", f"from {c.name}", i)
        everything = {f"from {c.name}" for c in clients}
        await _until(lambda: all(c.texts() == everything for c in clients), 10, "pubsub lost a message")
        assert all(len(c.received) == len(clients) for c in clients)  # and none twice
        # "worker" is the pid that delivered the message: the receiver's own worker.
        assert all(m["worker"] == c.worker for c in clients for m in c.received)
        worker_of = {c.sio.get_sid(): c.worker for c in clients}
        assert any(worker_of[m["from"]] != c.worker for c in clients for m in c.received)  # some crossed over
        await _disconnect_all(clients)

    asyncio.run(scenario())


def test_pubsub_survives_redis_going_away_and_reconnects(serve, redis_server: RedisServer) -> None:
    if not redis_server.owned:
        pytest.skip("REDIS_URL names a Redis this test cannot stop")
    server = serve("pubsub", "--workers", "2", "--redis-url", redis_server.url, ready_line="cluster ready")

    async def scenario() -> None:
        clients = await _connect_all(server.url, 4, "room")
        by_worker: dict[int, list[ChatClient]] = {}
        for c in clients:
            by_worker.setdefault(c.worker, []).append(c)
        assert len(by_worker) == 2
        (_w1, mine), (_w2, theirs) = by_worker.items()
        sender = mine[0]

        redis_server.stop()
        # The worker keeps serving and still delivers to its own clients; the others miss it.
        assert await sender.say("room", "while redis is down", 1) == {"ok": True}
        await _until(lambda: all("while redis is down" in c.texts() for c in mine), 5, "same-worker delivery stopped")
        await asyncio.sleep(1.0)
        assert all("while redis is down" not in c.texts() for c in theirs), "delivered across workers without Redis?"
        assert urllib.request.urlopen(f"{server.url}/health", timeout=5).status == 200

        redis_server.start()
        # python-socketio's listener retries with a growing back-off: keep sending until one arrives.
        deadline = time.monotonic() + 30
        seq = 2
        while True:
            await sender.say("room", f"back {seq}", seq)
            await asyncio.sleep(0.5)
            if all(f"back {seq}" in c.texts() for c in theirs):
                break
            assert time.monotonic() < deadline, "pubsub did not reconnect to Redis"
            seq += 1
        # At most once: the message sent during the outage never reaches the other worker.
        await asyncio.sleep(0.5)
        assert all("while redis is down" not in c.texts() for c in theirs)
        await _disconnect_all(clients)

    asyncio.run(scenario())
    assert "Cannot receive from redis" in server.log()


def test_pubsub_without_a_url_starts_its_own_redis_and_stops_it(serve, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REDIS_URL", "CORELAB_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    try:
        server = serve("pubsub", "--workers", "2", ready_line="cluster ready")
    except Exception as exc:  # pragma: no cover - depends on the machine
        if "no Redis found" in str(exc):
            pytest.skip(str(exc))
        raise
    assert "pubsub: Redis redis " in server.log() and "started from" in server.log()

    async def scenario() -> None:
        clients = await _connect_all(server.url, 4, "room")
        await clients[0].say("room", "via its own redis", 1)
        await _until(lambda: all("via its own redis" in c.texts() for c in clients), 10, "not delivered")
        await _disconnect_all(clients)

    asyncio.run(scenario())
    # The leak check after this test fails it if the redis-server outlived the server.
