"""Lab 4's check: real Socket.IO clients on a 2-worker cluster with a real Redis. Does every
handshake succeed, and does every message reach every member of the room? Run: make check LAB=04."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

import aiohttp
import socketio

from corelab.classroom.labs.harness import LabRun

WORKERS = 2
# Half the clients long-poll only (as behind a proxy that blocks WebSockets), half upgrade.
CLIENTS, MESSAGES, ROOM = 12, 5, "lab4"
CONNECT_TIMEOUT_S, DELIVERY_TIMEOUT_S = 5.0, 5.0


@dataclass
class Member:
    index: int
    client: socketio.AsyncClient
    worker: int | None = None
    joined: bool = False
    problem: str = ""
    received: set[tuple[int, int]] = field(default_factory=set)


def run(lab: LabRun) -> None:
    with lab.redis() as redis:
        server = lab.start(
            "your chat on the cluster",
            # A long-poll that a client left open would hold a draining worker for the default 10 s.
            [sys.executable, "cluster.py", "--workers", str(WORKERS), "--port", "{port}", "--graceful-timeout", "2"],
            env={"REDIS_URL": redis.url},
            ready_line="cluster ready",
        )
        members = asyncio.run(_chat(server.url))
        lab.stop(server)
    joined = [m for m in members if m.joined]
    workers = {m.worker for m in joined}
    problems = sorted({m.problem for m in members if m.problem})
    lab.verdict(
        "handshakes",
        len(joined) == CLIENTS,
        f"{len(joined)} of {CLIENTS} clients connected and joined (on {len(workers)} worker(s))"
        + (f"; {problems[0]}" if problems else ""),
        "after the handshake a session's requests come on new connections: routing.choose_worker must send "
        "each request with sid=w<pid>. to worker <pid> (TODO 1)",
    )
    expected = MESSAGES * len(joined) * len(joined)
    delivered = sum(len(m.received) for m in joined)
    ratio = delivered / expected if expected else 0.0
    lab.verdict(
        "delivery",
        bool(joined) and delivered == expected,
        f"{delivered} of {expected} deliveries arrived ({ratio:.0%}): {len(joined)} members x {MESSAGES} messages "
        f"each, every member owed every message",
        "a worker delivers only to the sessions it holds: give the Socket.IO server a "
        "socketio.AsyncRedisManager(REDIS_URL) so every emit reaches every worker (TODO 2)",
    )


async def _chat(url: str) -> list[Member]:
    # Each client on an HTTP session of its own (as separate browsers), closed here at the end.
    sessions = [aiohttp.ClientSession() for _ in range(CLIENTS)]
    members = [
        Member(i, socketio.AsyncClient(reconnection=False, handle_sigint=False, http_session=sessions[i]))
        for i in range(CLIENTS)
    ]
    try:
        await asyncio.gather(*(_join(url, m) for m in members))
        joined = [m for m in members if m.joined]
        for seq in range(MESSAGES):
            await asyncio.gather(*(_send(m, seq) for m in joined))
            await asyncio.sleep(0.05)
        owed = MESSAGES * len(joined)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DELIVERY_TIMEOUT_S
        while loop.time() < deadline and any(len(m.received) < owed for m in joined):
            await asyncio.sleep(0.05)
    finally:
        await asyncio.gather(*(_leave(m) for m in members))
        await asyncio.gather(*(session.close() for session in sessions))
    return members


async def _join(url: str, member: Member) -> None:
    client = member.client
    welcomed = asyncio.Event()

    @client.on("welcome")
    async def welcome(data: dict) -> None:
        member.worker = data.get("worker")
        welcomed.set()

    @client.on("chat")
    async def chat(data: dict) -> None:
        if isinstance(data, dict) and data.get("room") == ROOM:
            member.received.add((data.get("sender"), data.get("seq")))

    transports = ["polling"] if member.index % 2 == 0 else ["polling", "websocket"]
    try:
        await client.connect(url, transports=transports, wait_timeout=CONNECT_TIMEOUT_S)
        await asyncio.wait_for(welcomed.wait(), CONNECT_TIMEOUT_S)
        reply = await client.call("join", {"room": ROOM}, timeout=CONNECT_TIMEOUT_S)
        member.joined = isinstance(reply, dict) and reply.get("room") == ROOM
        if not member.joined:
            member.problem = f"join answered {reply!r}"
    except Exception as exc:  # socketio's ConnectionError, TimeoutError: each a failed handshake
        member.problem = f"{type(exc).__name__}: {exc}"[:160] or type(exc).__name__


async def _send(member: Member, seq: int) -> None:
    try:
        await member.client.emit(
            "chat", {"room": ROOM, "text": f"{member.index}:{seq}", "sender": member.index, "seq": seq}
        )
    except Exception as exc:
        member.problem = f"send failed: {exc}"[:160]


async def _leave(member: Member) -> None:
    try:
        await asyncio.wait_for(member.client.disconnect(), 3.0)
    except Exception:
        pass
