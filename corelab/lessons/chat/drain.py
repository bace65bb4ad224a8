"""Stopping and restarting a cluster while Socket.IO chat clients are connected.

A WebSocket, or a long-poll waiting for news, is a request that never finishes by itself. A
worker that waited for its requests before exiting would wait out its graceful timeout, so a
draining worker ends its chat sessions (servers/chat.py, ``GoingAway``) and their clients
reconnect, to another worker when one serves. These measure it with real python-socketio
clients (``corelab.lessons.chat.clients``) against a real cluster (``corelab.lessons.chat.server``):

    stop_with_clients("pubsub")        # SIGTERM to the primary with 20 clients: seconds to exit
    rolling_restart_with_chat()        # SIGHUP with 20 clients chatting: seconds per worker,
                                       # clients back on new workers, messages delivered / lost

Both return a claim (``corelab.claim``): its sentence for the reader, its fields for a test.
Each client joins room ``room-<k>`` and, while chatting, sends one message every ``interval``
seconds on average; a message that has not arrived ``LOST_AFTER_S`` after the run's window is lost.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corelab.claim import Claim
from corelab.lessons.chat.clients import ChatFleet, until
from corelab.lessons.chat.server import Replacement, old_workers_gone, replacements, start_chat_server

LOST_AFTER_S = 3.0
# How long a client may take to be back after a restart: python-socketio waits 0.5-1.5 s before
# its first attempt and backs off to at most 5 s between attempts.
RECONNECT_TIMEOUT_S = 20.0
# The restart's report also counts the messages of this many seconds once every client is back.
AFTER_S = 2.0


# -- stop --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StopResult(Claim):
    """A cluster stopped (SIGTERM to its primary) with chat clients connected: how long it took."""

    variant: str
    clients: int
    transports: dict[str, int]  # the clients' transports at the moment of the stop
    seconds: float  # SIGTERM to the primary's exit
    exit_code: int
    workers_killed: int  # workers the primary had to kill ("did not stop in time")

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "transports": self.transports}

    def sentence(self) -> str:
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
class RestartResult(Claim):
    """A rolling restart (SIGHUP) with chat clients chatting: per worker, the clients, the messages."""

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
    log: str  # the server's whole log: for a failing test's message, not a field

    @property
    def lost(self) -> int:
        return self.owed - self.delivered

    def fields(self) -> dict[str, Any]:
        scalars = {k: v for k, v in super().fields().items() if k != "log"}
        timed = [r.seconds for r in self.replacements if r.seconds is not None]
        return {
            **scalars,
            "lost": self.lost,
            "replaced": len(self.replacements),
            # None when a replacement was never seen to finish: no figure would say how slow it was.
            "slowest_replacement_s": max(timed) if timed and len(timed) == len(self.replacements) else None,
        }

    def sentence(self) -> str:
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
        return "\n".join(out)


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
        restart_end = await old_workers_gone(server.log, old, hup, timeout=60)

        def all_back() -> bool:
            return all(w is not None and w not in old for w in fleet.workers().values())

        try:
            await until(all_back, RECONNECT_TIMEOUT_S, "clients did not come back")
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
        replacements=replacements(server.log, hup),
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
