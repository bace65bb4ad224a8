"""The fleet lesson's clients: bounded loops of real requests from this process, not Locust.

Each request's send time, outcome, answering worker and latency is kept, which a
time-to-route-around needs: ``paced_load`` (threads sending GET / at a steady rate),
``timed_gets`` (one keep-alive connection, one request after another) and ``chat_clients``
(python-socketio clients in one room, recording what each receives and when).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

# One request: when it was sent (monotonic), what came back ("ok", "http 502", an exception's
# name), the worker pid that answered (0: none), its latency in ms.
Outcome = tuple[float, str, int, float]


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile by nearest rank (NaN for no values)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed_gets(conn: http.client.HTTPConnection, path: str, n: int) -> list[float]:
    """``n`` GET ``path`` on one connection, one after another: each one's latency in ms."""
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
            # A failed connection is not reused: the next request opens a new one, as a browser would.
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


# A chat message as a client received it: the event's data, when (monotonic), and when (wall clock, ms).
Received = tuple[dict[str, Any], float, float]


@dataclass
class ChatClients:
    """Connected Socket.IO clients in one room: the worker that welcomed each, what each received."""

    socks: list[Any]
    workers: list[int | None]
    received: list[list[Received]] = field(default_factory=list)


@contextmanager
def chat_clients(url: str, n: int, room: str) -> Iterator[ChatClients]:
    """``n`` python-socketio clients (long-polling, then WebSocket) joined to ``room``; disconnected at the end."""
    import socketio  # the harness's own client; servers never import the harness

    chat = ChatClients([], [None] * n, [[] for _ in range(n)])
    try:
        for i in range(n):
            sio = socketio.Client(reconnection=False)
            sio.on("welcome", lambda data, i=i: chat.workers.__setitem__(i, data["worker"]))
            sio.on("chat", lambda data, i=i: chat.received[i].append((data, time.monotonic(), time.time() * 1000)))
            sio.connect(url, wait_timeout=10)
            sio.call("join", {"room": room}, timeout=10)
            chat.socks.append(sio)
        deadline = time.monotonic() + 10
        while None in chat.workers and time.monotonic() < deadline:
            time.sleep(0.02)
        yield chat
    finally:
        for sio in chat.socks:
            sio.disconnect()
