"""Stopping and restarting a cluster while Socket.IO chat clients are connected.

A WebSocket, or a long-poll waiting for news, is a request that never finishes by itself. A
worker that waited for its requests before exiting would wait out its graceful timeout, so a
draining worker ends its chat sessions (servers/chat.py, ``GoingAway``) and their clients
reconnect, to another worker when one serves. These measure it with real python-socketio
clients (``AsyncClient``, their default reconnection settings, as the browser's client has):

    stop_with_clients("pubsub")        # SIGTERM to the primary with 20 clients: seconds to exit
    rolling_restart_with_chat()        # SIGHUP with 20 clients chatting: seconds per worker,
                                       # clients back on new workers, messages delivered / lost

Each client joins room ``room-<k>`` (ROOM_SIZE clients a room) and, while chatting, sends one
message every ``interval`` seconds on average. A message the server acknowledged is owed to every
other member of its room; one that has not arrived ``LOST_AFTER_S`` after the run's window is
lost. Socket.IO delivers at most once: a message emitted to a client while it reconnects is not
kept for it, and a client that is reconnecting cannot send (counted as "not sent").
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio

from plumbing.procs import ManagedProcess, free_port, python_module, wait_until_serving

ROOM_SIZE = 4
LOST_AFTER_S = 3.0
CONNECT_TIMEOUT_S = 10.0
# How long a client may take to be back after a restart: python-socketio waits 0.5-1.5 s before
# its first attempt and backs off to at most 5 s between attempts.
RECONNECT_TIMEOUT_S = 20.0
# The restart's report also counts the messages of this many seconds once every client is back.
AFTER_S = 2.0


# -- the server, and when its log said what ---------------------------------------------------


class StampedLog:
    """Follows a server's log file from a thread, stamping each line with ``time.monotonic()``.

    The cluster's log lines carry no time; stamping them as they appear (every 20 ms) is precise
    enough to time a worker's replacement, and costs the server nothing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        offset, partial = 0, ""
        while not self._stop.wait(0.02):
            try:
                with open(self.path, errors="replace") as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset = f.tell()
            except OSError:
                continue
            now = time.monotonic()
            *complete, partial = (partial + chunk).split("\n")
            self.lines.extend((now, line) for line in complete)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)

    def first(self, pattern: str, after: float = 0.0) -> tuple[float, re.Match[str]] | None:
        """The first line at or after ``after`` that matches ``pattern``: (when, match)."""
        for when, line in list(self.lines):
            if when >= after and (match := re.search(pattern, line)):
                return when, match
        return None

    def text(self) -> str:
        return "\n".join(line for _when, line in self.lines)


@dataclass
class ChatServer:
    variant: str
    url: str
    process: ManagedProcess
    log: StampedLog

    @property
    def primary_pid(self) -> int:
        return self.process.pid

    def close(self) -> None:
        self.process.stop()
        self.log.close()


def start_chat_server(variant: str, workers: int, log_path: Path, *extra: str) -> ChatServer:
    """``python -m servers.<variant> --workers N`` on a free port, serving once the cluster is ready."""
    port = free_port()
    process = ManagedProcess(
        python_module(f"servers.{variant}", "--workers", str(workers), "--port", str(port), *extra), log_path=log_path
    )
    log = StampedLog(log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/health", process, timeout=30, ready_line="cluster ready")
    except BaseException:
        process.stop()
        log.close()
        raise
    return ChatServer(variant, url, process, log)


# -- the clients -------------------------------------------------------------------------------


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
        await _until(lambda: self.ready, CONNECT_TIMEOUT_S, f"{self.name} did not join {self.room}")

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
        await _until(
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


async def _until(check: Any, seconds: float, why: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(why)
        await asyncio.sleep(0.05)


# -- stop --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopResult:
    variant: str
    clients: int
    transports: dict[str, int]  # the clients' transports at the moment of the stop
    seconds: float  # SIGTERM to the primary's exit
    exit_code: int
    workers_killed: int  # workers the primary had to kill ("did not stop in time")

    def line(self) -> str:
        return (
            f"{self.variant}: stopped in {self.seconds:.2f} s with {self.clients} chat clients connected "
            f"({', '.join(f'{n} {t}' for t, n in sorted(self.transports.items()))}); exit code {self.exit_code}, "
            f"{self.workers_killed} workers killed"
        )


async def stop_with_clients(
    variant: str,
    *,
    clients: int = 20,
    polling_only: int = 2,
    workers: int = 2,
    log_path: Path,
    extra: tuple[str, ...] = (),
) -> StopResult:
    """Connect ``clients`` chat clients, SIGTERM the primary, and time it until it has exited."""
    server = start_chat_server(variant, workers, log_path, *extra)
    fleet = ChatFleet(clients, polling_only)
    try:
        await fleet.connect(server.url)
        transports = fleet.transports()
        started = time.monotonic()
        os.kill(server.primary_pid, signal.SIGTERM)
        code = await asyncio.to_thread(server.process.wait, 60)
        seconds = time.monotonic() - started
    finally:
        await fleet.close()
        server.close()
    killed = server.log.text().count("did not stop in time")
    return StopResult(variant, clients, transports, seconds, code, killed)


# -- rolling restart ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Replacement:
    old_pid: int
    new_pid: int | None
    boot_s: float | None  # "replacing" to the successor serving
    drain_s: float | None  # the successor serving to the old worker's exit
    seconds: float | None  # "replacing" to the old worker's exit


@dataclass(frozen=True)
class RestartResult:
    variant: str
    clients: int
    workers: int
    replacements: list[Replacement]
    restart_s: float  # SIGHUP to the last old worker's exit
    reconnected: int  # clients back in their room, on a worker started by the restart
    reconnected_s: float | None  # SIGHUP to the last of them being back
    # Messages acknowledged between SIGHUP and every client being back (or the timeout):
    messages: int
    owed: int  # deliveries owed: (message, other member of its room)
    delivered: int
    not_sent: int  # sends a client could not make because it was reconnecting
    # The same for the steady seconds before the restart (the baseline), and for AFTER_S after it.
    before_messages: int
    before_owed: int
    before_delivered: int
    after_messages: int
    after_owed: int
    after_delivered: int
    log: str

    @property
    def lost(self) -> int:
        return self.owed - self.delivered

    def lines(self) -> list[str]:
        out = [
            f"{self.variant} x{self.workers}: rolling restart with {self.clients} chat clients took "
            f"{self.restart_s:.2f} s"
        ]
        for r in self.replacements:
            out.append(
                f"  worker {r.old_pid} -> {r.new_pid}: {_s(r.seconds)} (successor booting {_s(r.boot_s)}, "
                f"old worker draining {_s(r.drain_s)})"
            )
        out.append(
            f"  clients back on new workers: {self.reconnected} of {self.clients}"
            + (f", the last {self.reconnected_s:.2f} s after SIGHUP" if self.reconnected_s is not None else "")
        )
        out.append(
            f"  during the restart: {self.messages} messages acknowledged, {self.delivered} of {self.owed} deliveries "
            f"arrived, {self.lost} lost; {self.not_sent} sends not made while reconnecting"
        )
        out.append(
            f"  before it (baseline): {self.before_messages} messages, {self.before_delivered} of "
            f"{self.before_owed} deliveries arrived, {self.before_owed - self.before_delivered} lost"
        )
        out.append(
            f"  in the {AFTER_S:g} s after it: {self.after_messages} messages, {self.after_delivered} of "
            f"{self.after_owed} deliveries arrived, {self.after_owed - self.after_delivered} lost"
        )
        return out


def _s(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} s"


async def rolling_restart_with_chat(
    variant: str = "pubsub",
    *,
    clients: int = 20,
    polling_only: int = 2,
    workers: int = 2,
    interval: float = 0.5,
    steady_s: float = 3.0,
    log_path: Path,
    extra: tuple[str, ...] = (),
) -> RestartResult:
    """Chat with ``clients`` clients, SIGHUP the primary, wait until every old worker has gone and
    every client is back on a new one, and count what was delivered meanwhile."""
    server = start_chat_server(variant, workers, log_path, *extra)
    fleet = ChatFleet(clients, polling_only)
    try:
        await fleet.connect(server.url)
        old = {c.worker for c in fleet.clients if c.worker is not None}
        fleet.start_chatting(interval)
        chatting_since = time.monotonic()
        await asyncio.sleep(steady_s)
        hup = time.monotonic()
        os.kill(server.primary_pid, signal.SIGHUP)
        restart_end = await _old_workers_gone(server.log, old, hup, timeout=60)

        def all_back() -> bool:
            return all(w is not None and w not in old for w in fleet.workers().values())

        try:
            await _until(all_back, RECONNECT_TIMEOUT_S, "clients did not come back")
            back_s: float | None = time.monotonic() - hup
        except TimeoutError:
            back_s = None
        window_end = time.monotonic()
        await asyncio.sleep(AFTER_S)
        await fleet.stop_chatting()
        await asyncio.sleep(LOST_AFTER_S)  # the last messages' time to arrive
        reconnected = sum(1 for w in fleet.workers().values() if w is not None and w not in old)
        messages, owed, delivered = fleet.deliveries(hup, window_end)
        b_messages, b_owed, b_delivered = fleet.deliveries(chatting_since + 1.0, hup)
        a_messages, a_owed, a_delivered = fleet.deliveries(window_end, window_end + AFTER_S)
        not_sent = sum(1 for at in fleet.ledger.not_sent if hup <= at < window_end)
    finally:
        await fleet.close()
        server.close()
    return RestartResult(
        variant=variant,
        clients=clients,
        workers=workers,
        replacements=_replacements(server.log, hup),
        restart_s=restart_end - hup,
        reconnected=reconnected,
        reconnected_s=back_s,
        messages=messages,
        owed=owed,
        delivered=delivered,
        not_sent=not_sent,
        before_messages=b_messages,
        before_owed=b_owed,
        before_delivered=b_delivered,
        after_messages=a_messages,
        after_owed=a_owed,
        after_delivered=a_delivered,
        log=server.log.text(),
    )


async def _old_workers_gone(log: StampedLog, old: set[int], since: float, timeout: float) -> float:
    """When the last of the ``old`` workers exited, by the primary's log."""
    deadline = time.monotonic() + timeout
    while True:
        exits = [log.first(rf"worker {pid} (exited|was killed)", since) for pid in old]
        if all(exits):
            return max(found[0] for found in exits if found)
        if time.monotonic() > deadline:
            raise TimeoutError(f"old workers {sorted(old)} still running after {timeout:g} s")
        await asyncio.sleep(0.05)


def _replacements(log: StampedLog, since: float) -> list[Replacement]:
    """Each worker a rolling restart replaced, with its successor and the times, from the primary's log."""
    lines = list(log.lines)

    def find(pattern: str, start: int) -> tuple[float, re.Match[str]] | None:
        for when, line in lines[start:]:
            if match := re.search(pattern, line):
                return when, match
        return None

    out = []
    for i, (began, line) in enumerate(lines):
        match = re.search(r"replacing worker (\d+) \(slot (\d+)\)", line)
        if began < since or not match:
            continue
        old_pid, slot = int(match.group(1)), match.group(2)
        serving = find(rf"worker (\d+) \(slot {slot}\) is serving", i + 1)
        gone = find(rf"worker {old_pid} (exited|was killed)", i + 1)
        out.append(
            Replacement(
                old_pid=old_pid,
                new_pid=int(serving[1].group(1)) if serving else None,
                boot_s=serving[0] - began if serving else None,
                drain_s=gone[0] - serving[0] if gone and serving else None,
                seconds=gone[0] - began if gone else None,
            )
        )
    return out
