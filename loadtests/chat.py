"""Chat: Socket.IO users join rooms, send sequenced messages and count what reaches the others.

What it teaches: a Socket.IO server keeps its sessions and rooms in one process's memory. On a
plain cluster the long-polling handshake fails ("Invalid session": the session's next request
reaches another worker); with sticky sessions everyone connects but a message reaches only the
room members on the sender's worker (about 1/N of them); with the Redis adapter, all of them.

Each user connects (python-socketio's client, default transports: long-polling, then an upgrade
to WebSocket), joins room ``room-<k>`` (ROOM_SIZE users a room) and sends one message every
INTERVAL seconds on average. A shared ledger knows, for every message, who was in the room when
it was sent and on which worker; a receipt is a delivery, and a message still missing LOST_AFTER
seconds later is a loss (pub/sub is at most once: it will not come). All of it goes to Locust
as requests:

- ``socketio connect``: one per attempt, a failure for a failed handshake (its response time:
  how long connecting took);
- ``delivered (same worker)`` / ``delivered (other worker)``: one per (message, recipient other
  than the sender), split by whether the recipient sits on the sender's worker; the response time
  is the delivery latency (sent_ms to receipt), a failure is a lost message (no response time).

Settings (environment): CORELAB_ROOM_SIZE (4), CORELAB_INTERVAL (0.5 s), CORELAB_LOST_AFTER (3 s),
CORELAB_TRANSPORTS ("polling,websocket"). Connections per worker go to CORELAB_WORKER_COUNTS.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from dataclasses import dataclass, field
from typing import Any

import _worker_counts  # first: it imports locust, which patches the standard library with gevent
import gevent
import socketio
from gevent.event import Event
from locust import User, between, events, task

from plumbing import env

ROOM_SIZE = max(1, int(os.environ.get(env.ROOM_SIZE, "4")))
ROOM_SEED = 20  # the same rooms in every run, so runs compare
INTERVAL = float(os.environ.get(env.INTERVAL, "0.5"))
LOST_AFTER = float(os.environ.get(env.LOST_AFTER, "3"))
TRANSPORTS = os.environ.get(env.TRANSPORTS, "polling,websocket").split(",")
CONNECT_TIMEOUT = 5.0


class MessageLost(Exception):
    """A message that did not reach a room member within LOST_AFTER seconds."""


class HandshakeFailed(Exception):
    pass


@dataclass
class Pending:
    sent_at: float
    sender_worker: int
    # Recipient user id -> its worker, for the room members who have not received it yet.
    waiting: dict[int, int] = field(default_factory=dict)


class Ledger:
    """Every message sent, and who still waits for it. One Locust process, so plain dicts do."""

    def __init__(self) -> None:
        self.rooms: dict[str, dict[int, int]] = {}  # room -> {user id: worker pid}
        self.pending: dict[tuple[str, int], Pending] = {}
        self.closed = False
        self.messages_sent = 0

    def joined(self, room: str, uid: int, worker: int) -> None:
        self.rooms.setdefault(room, {})[uid] = worker

    def left(self, room: str | None, uid: int) -> None:
        if room is not None:
            self.rooms.get(room, {}).pop(uid, None)
        # A member who has gone can receive nothing more: what it still waited for is not judged.
        for key, p in list(self.pending.items()):
            if p.waiting.pop(uid, None) is not None and not p.waiting:
                del self.pending[key]

    def sent(self, sid: str, seq: int, room: str, uid: int, worker: int) -> None:
        self.messages_sent += 1
        others = {u: w for u, w in self.rooms.get(room, {}).items() if u != uid}
        if others:
            self.pending[(sid, seq)] = Pending(time.time(), worker, others)

    def received(self, uid: int, msg: dict[str, Any]) -> None:
        key = (msg.get("from", ""), msg.get("seq", -1))
        p = self.pending.get(key)
        if p is None or uid not in p.waiting:
            return  # our own message, or one already judged lost or sent before we joined
        worker = p.waiting.pop(uid)
        if not p.waiting:
            del self.pending[key]
        latency_ms = max(0.0, time.time() * 1000 - float(msg["sent_ms"]))
        _fire(_delivery_name(p.sender_worker, worker), latency_ms, None)

    def sweep(self) -> None:
        """Judge as lost whatever has waited longer than LOST_AFTER seconds."""
        cutoff = time.time() - LOST_AFTER
        for key, p in list(self.pending.items()):
            if p.sent_at < cutoff:
                del self.pending[key]
                for worker in p.waiting.values():
                    _fire(
                        _delivery_name(p.sender_worker, worker),
                        None,
                        MessageLost(f"not delivered within {LOST_AFTER:g} s"),
                    )

    def close(self) -> None:
        # The run is ending: messages still in flight are not judged (their recipients are leaving).
        self.closed = True
        self.pending.clear()


LEDGER = Ledger()
_user_ids = itertools.count()


def _delivery_name(sender_worker: int, recipient_worker: int) -> str:
    return "delivered (same worker)" if sender_worker == recipient_worker else "delivered (other worker)"


def _fire(name: str, response_time: float | None, exception: Exception | None, kind: str = "chat") -> None:
    events.request.fire(
        request_type=kind,
        name=name,
        response_time=response_time,
        response_length=0,
        exception=exception,
        context={},
    )


def _sweeper() -> None:
    while not LEDGER.closed:
        gevent.sleep(0.25)
        LEDGER.sweep()


@events.test_start.add_listener
def _start_sweeper(**_kwargs: Any) -> None:
    gevent.spawn(_sweeper)


@events.test_stop.add_listener
def _close_ledger(**_kwargs: Any) -> None:
    LEDGER.close()


@events.quitting.add_listener
def _say_how_many(**_kwargs: Any) -> None:
    # Locust counts deliveries; how many messages were sent is said here (corelab.lessons.chat.bench reads it).
    print(f"chat: {LEDGER.messages_sent} messages sent", flush=True)


def room_of(uid: int, users: int) -> str:
    """The room of user ``uid`` of ``users``: room-mates drawn from all the users by a seeded shuffle,
    not users that connected one after another. The cluster's rr hands consecutive connections to
    consecutive workers, so four consecutive users would never share a worker once there are four
    workers or more; drawn at random, about 1/N of a sender's room-mates share its worker."""
    if uid >= users:  # more users than Locust was asked for (the web UI): rooms in arrival order
        return f"room-{uid // ROOM_SIZE}"
    order = random.Random(ROOM_SEED).sample(range(users), users)
    return f"room-{order.index(uid) // ROOM_SIZE}"


class ChatUser(User):
    # On average one message per INTERVAL, at random moments: users do not type in step, and
    # lock-step bursts would measure the load generator's queue rather than the server.
    wait_time = between(INTERVAL * 0.5, INTERVAL * 1.5)

    def on_start(self) -> None:
        self.uid = next(_user_ids)
        options = getattr(self.environment, "parsed_options", None)
        self.room = room_of(self.uid, int(getattr(options, "num_users", 0) or 0))
        self.sio: socketio.Client | None = None
        self.worker: int | None = None
        self.seq = 0
        self._connect()

    def _connect(self) -> None:
        welcomed = Event()
        client = socketio.Client(reconnection=False)
        uid = self.uid

        def on_welcome(data: dict[str, Any]) -> None:
            self.worker = int(data["worker"])
            welcomed.set()

        client.on("welcome", on_welcome)
        client.on("chat", lambda msg: LEDGER.received(uid, msg))
        client.on("disconnect", lambda *_: LEDGER.left(self.room, uid))
        started = time.perf_counter()
        try:
            client.connect(self.host, transports=TRANSPORTS, wait_timeout=CONNECT_TIMEOUT)
            if not welcomed.wait(CONNECT_TIMEOUT):
                raise HandshakeFailed("connected but no welcome")
            ack = client.call("join", {"room": self.room}, timeout=CONNECT_TIMEOUT)
            if not isinstance(ack, dict) or ack.get("room") != self.room:
                raise HandshakeFailed(f"join refused: {ack}")
        except Exception as exc:  # every way a connect can fail is a failed connect, counted
            _fire("socketio connect", (time.perf_counter() - started) * 1000, exc, kind="socketio")
            _disconnect(client)
            return
        _fire("socketio connect", (time.perf_counter() - started) * 1000, None, kind="socketio")
        _worker_counts.served_by[str(self.worker)] += 1
        assert self.worker is not None
        LEDGER.joined(self.room, uid, self.worker)
        self.sio = client

    @task
    def chat(self) -> None:
        if LEDGER.closed:
            return
        if self.sio is None or not self.sio.connected:
            # Not connected (a failed handshake, or the server dropped us): try again, as a client would.
            self.sio = None
            self._connect()
            return
        self.seq += 1
        sid = self.sio.get_sid()
        assert sid is not None and self.worker is not None
        sent_ms = time.time() * 1000
        LEDGER.sent(sid, self.seq, self.room, self.uid, self.worker)
        try:
            self.sio.emit("chat", {"room": self.room, "text": f"hello {self.seq}", "seq": self.seq, "sent_ms": sent_ms})
        except socketio.exceptions.SocketIOError:
            pass  # the disconnect handler has taken us out of the room; the next round reconnects

    def on_stop(self) -> None:
        LEDGER.close()
        if self.sio is not None:
            _disconnect(self.sio)


def _disconnect(client: socketio.Client) -> None:
    # abort: do not wait for the long-poll in flight. On a broken (cluster) session that poll can
    # hang until the server's ping timeout, and a run must stop on time.
    try:
        client.eio.disconnect(abort=True)
    except Exception:  # a half-open client may fail to say goodbye; it is going away regardless
        pass
