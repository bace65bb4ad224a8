"""Real python-socketio chat clients for the stop and restart measurements, and what they sent and received.

    fleet = ChatFleet(20, polling_only=2)    # clients c0..c19 in rooms of ROOM_SIZE
    await fleet.connect(url)                 # each joined its room, on its final transport
    fleet.start_chatting(0.5)                # one message per client every 0.5 s on average
    fleet.deliveries(since, until)           # (messages, deliveries owed, delivered)

Each client is an ``AsyncClient`` with python-socketio's default reconnection settings, as the
browser's client has: when its worker ends the session it reconnects on its own, to whichever worker
serves, and joins its room again. A message the server acknowledged is owed to every other member of
its room. Socket.IO delivers at most once: a message emitted to a client while it reconnects is not
kept for it, and a client that is reconnecting cannot send (the ledger's ``not_sent``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import socketio

ROOM_SIZE = 4
CONNECT_TIMEOUT_S = 10.0


@dataclass
class Sent:
    text: str
    room: str
    sender: str
    at: float


@dataclass
class Ledger:
    """What every client sent, and what did not go out because its client was reconnecting."""

    sent: list[Sent] = field(default_factory=list)
    not_sent: list[float] = field(default_factory=list)  # when a client had no session to send on
    unacknowledged: int = 0


class ChatClient:
    """A python-socketio client that reconnects on its own, rejoins its room, and records what it receives."""

    def __init__(self, name: str, room: str, transports: list[str] | None) -> None:
        self.name = name
        self.room = room
        self.transports = transports
        # python-socketio's defaults: reconnect forever, first after 0.5-1.5 s (as the browser's client).
        self.sio = socketio.AsyncClient(reconnection=True)
        self.worker: int | None = None  # the pid that welcomed the current session
        self.sessions = 0
        self.in_room = False
        self.received: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.sio.on("connect", self._on_connect)
        self.sio.on("welcome", self._on_welcome)
        self.sio.on("chat", self._on_chat)
        self.sio.on("disconnect", self._on_disconnect)

    def _on_welcome(self, data: dict[str, Any]) -> None:
        self.worker = int(data["worker"])

    async def _on_connect(self) -> None:
        self.sessions += 1
        # Rooms live in the server's session: a reconnected client joins again. (Not awaited here:
        # the join's acknowledgement is read by the same client.)
        task = asyncio.get_running_loop().create_task(self._join())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _join(self) -> None:
        try:
            ack = await self.sio.call("join", {"room": self.room}, timeout=5)
        except socketio.exceptions.SocketIOError:
            return
        self.in_room = isinstance(ack, dict) and ack.get("room") == self.room

    def _on_chat(self, msg: dict[str, Any]) -> None:
        self.received.add(str(msg.get("text")))

    def _on_disconnect(self, *_reason: Any) -> None:
        self.in_room = False
        self.worker = None

    @property
    def ready(self) -> bool:
        return self.sio.connected and self.in_room

    def transport(self) -> str:
        return self.sio.transport() if self.sio.connected else "none"

    async def connect(self, url: str) -> None:
        await self.sio.connect(url, transports=self.transports, wait_timeout=CONNECT_TIMEOUT_S)
        await until(lambda: self.ready, CONNECT_TIMEOUT_S, f"{self.name} did not join {self.room}")

    async def chatter(self, interval: float, ledger: Ledger, stop: asyncio.Event) -> None:
        seq = 0
        while not stop.is_set():
            await asyncio.sleep(interval * random.uniform(0.5, 1.5))
            seq += 1
            text = f"{self.name}#{seq}"
            now = time.monotonic()
            if not self.ready:
                ledger.not_sent.append(now)
                continue
            try:
                ack = await self.sio.call(
                    "chat", {"room": self.room, "text": text, "seq": seq, "sent_ms": time.time() * 1000}, timeout=3
                )
            except socketio.exceptions.TimeoutError:
                ledger.unacknowledged += 1  # it may or may not have gone out: not counted either way
                continue
            except socketio.exceptions.SocketIOError:
                ledger.not_sent.append(now)  # the session ended between the check and the send
                continue
            if ack == {"ok": True}:
                ledger.sent.append(Sent(text, self.room, self.name, now))

    async def close(self) -> None:
        try:
            # abort: do not wait for a long-poll in flight (the server may hold it for 45 s).
            if self.sio.connected:
                await asyncio.wait_for(self.sio.eio.disconnect(abort=True), 5)
            # Ends a reconnection in progress (the server may be gone for good).
            await asyncio.wait_for(self.sio.disconnect(), 5)
        except (TimeoutError, socketio.exceptions.SocketIOError):
            pass
        for task in list(self._tasks):
            task.cancel()
        # A reconnection attempt that found the port closed leaves engine.io's HTTP session open.
        http = self.sio.eio.http
        if http is not None and not http.closed:
            await http.close()


class ChatFleet:
    """``clients`` chat clients in rooms of ROOM_SIZE; the last ``polling_only`` stay on long-polling."""

    def __init__(self, clients: int, polling_only: int = 2) -> None:
        self.clients = [
            ChatClient(f"c{i}", f"room-{i // ROOM_SIZE}", ["polling"] if i >= clients - polling_only else None)
            for i in range(clients)
        ]
        self.ledger = Ledger()
        self._stop_chatting = asyncio.Event()
        self._chatters: list[asyncio.Task[None]] = []

    async def connect(self, url: str) -> None:
        for client in self.clients:
            await client.connect(url)
        # Let the default clients finish their upgrade from long-polling to WebSocket.
        await until(
            lambda: all(c.transport() == (c.transports or ["websocket"])[-1] for c in self.clients),
            CONNECT_TIMEOUT_S,
            "clients did not settle on their transports",
        )

    def start_chatting(self, interval: float) -> None:
        loop = asyncio.get_running_loop()
        self._chatters = [loop.create_task(c.chatter(interval, self.ledger, self._stop_chatting)) for c in self.clients]

    async def stop_chatting(self) -> None:
        self._stop_chatting.set()
        await asyncio.gather(*self._chatters, return_exceptions=True)

    def transports(self) -> dict[str, int]:
        return dict(Counter(c.transport() for c in self.clients))

    def workers(self) -> dict[str, int | None]:
        return {c.name: c.worker if c.ready else None for c in self.clients}

    def deliveries(self, since: float, until: float) -> tuple[int, int, int]:
        """For messages acknowledged in [since, until): (messages, deliveries owed, delivered)."""
        members: dict[str, list[ChatClient]] = {}
        for c in self.clients:
            members.setdefault(c.room, []).append(c)
        messages = owed = delivered = 0
        for msg in self.ledger.sent:
            if since <= msg.at < until:
                messages += 1
                for c in members[msg.room]:
                    if c.name != msg.sender:
                        owed += 1
                        delivered += msg.text in c.received
        return messages, owed, delivered

    async def close(self) -> None:
        await self.stop_chatting()
        await asyncio.gather(*(c.close() for c in self.clients))


async def until(check: Callable[[], bool], seconds: float, why: str) -> None:
    """Wait until ``check()`` holds, polling every 50 ms; TimeoutError(why) after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(why)
        await asyncio.sleep(0.05)
