"""Socket.IO chat on the shared aiohttp app: a small protocol any Socket.IO client can speak.

- on connect the server emits ``welcome`` {"worker": pid};
- the client emits ``join`` {"room": name} (the acknowledgement is {"room", "worker"});
- the client emits ``chat`` {"room", "text", "seq", "sent_ms"}; the server emits ``chat`` to
  everyone in the room with the same fields plus "from" (the sender's sid) and "worker" (the pid
  that delivered it).

Bad events get an ``error`` event {"event", "error"} naming the problem, never a crash.

Each worker keeps its own sessions and rooms in memory. So in a cluster, a long-polling client
whose next request lands on another worker fails ("Invalid session"), and a message reaches
only the room members held by the sender's worker. ``servers.sticky`` fixes the first (sticky
mode below), ``servers.pubsub`` the second (a Redis manager relays every emit to all workers).

When the server shuts down (aiohttp's ``on_shutdown``: a stop, or a worker drained in a rolling
restart), every session is ended so that its client reconnects, to another worker if one serves
(``GoingAway`` below).
"""

from __future__ import annotations

import logging
import math
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import socketio
from aiohttp import web

from plumbing import env
from servers.session_ids import owner_pid, worker_sid_prefix

STATIC = Path(__file__).resolve().parent / "static"

log = logging.getLogger("chat")


@dataclass(frozen=True)
class ChatConfig:
    # Sticky mode: session ids name the worker that owns them, so the primary can route by them.
    sticky: bool = False
    # When set, python-socketio's AsyncRedisManager relays every emit to every worker.
    redis_url: str | None = None
    # The pub/sub channel: one per cluster, so two clusters sharing a Redis do not mix their rooms.
    redis_channel: str = "corelab-chat"
    max_room_chars: int = 64
    max_text_chars: int = 2000

    @classmethod
    def from_env(cls) -> ChatConfig:
        # How a variant switches these modes on in its workers: they are forked from a primary
        # that serves no requests, so the primary sets them before forking and every worker reads them.
        return cls(
            sticky=os.environ.get(env.CHAT_STICKY, "") not in ("", "0"),
            redis_url=os.environ.get(env.CHAT_REDIS_URL) or None,
            redis_channel=os.environ.get(env.CHAT_CHANNEL) or "corelab-chat",
        )


chat_key = web.AppKey("chat", socketio.AsyncServer)


class BadEvent(ValueError):
    """An event whose data does not follow the protocol; the message is sent back to the client."""


class DeliveringWorkerRedisManager(socketio.AsyncRedisManager):
    """python-socketio's Redis manager, stamping each ``chat`` with the pid of the worker that delivers it.

    The sender's worker builds the message once; every worker then delivers it to its own room
    members through ``_handle_emit`` (the local copy directly, the others from the Redis channel).
    That is the one place that knows which worker delivers, so the "worker" field is set there.
    ``_handle_emit`` is internal to python-socketio: tests/test_chat.py checks the stamp, so a
    release that renames it shows up as a failing test, not a silently wrong page.
    """

    async def _handle_emit(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        if message.get("event") == "chat" and isinstance(data, list) and data and isinstance(data[0], dict):
            message = {**message, "data": [{**data[0], "worker": os.getpid()}, *data[1:]]}
        await super()._handle_emit(message)


def attach_chat(app: web.Application, config: ChatConfig | None = None) -> socketio.AsyncServer:
    """Add the Socket.IO server (at /socket.io/) and the /chat page to ``app``."""
    config = config or ChatConfig.from_env()
    manager = None
    if config.redis_url:
        manager = DeliveringWorkerRedisManager(config.redis_url, channel=config.redis_channel, logger=log)
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager, logger=False, engineio_logger=False)
    if config.sticky:
        # engine.io ids are opaque to clients; prefixing the owner's pid lets the sticky primary
        # route a request by its sid with no table to keep in step (servers/session_ids.py).
        prefix = worker_sid_prefix(os.getpid())
        sio.eio.generate_id = lambda: prefix + secrets.token_urlsafe(12)
        app.middlewares.append(_sticky_connections)
    going_away = GoingAway(sio)
    app.middlewares.append(going_away.middleware)
    app.on_shutdown.append(going_away.end_sessions)
    sio.attach(app)
    _register_handlers(sio, config)
    app[chat_key] = sio
    app.add_routes(
        [
            web.get("/chat", _page("chat.html", "text/html")),
            web.get("/static/socket.io.min.js", _page("socket.io.min.js", "application/javascript")),
        ]
    )
    return sio


class GoingAway:
    """On shutdown, end every Socket.IO session of this process so that its client reconnects elsewhere.

    A WebSocket, or a long-poll waiting for something to send, is a request that does not end by
    itself: a server that waits for its requests to finish before it exits waits out its whole
    graceful timeout. aiohttp's ``on_shutdown`` signal exists to close such connections, and how
    they are closed decides what the client does next:

    - a Socket.IO disconnect (``sio.disconnect(sid)``) or an engine.io CLOSE packet tells the
      client it was sent away on purpose: python-socketio's client and the browser's then stay
      disconnected ("io server disconnect");
    - a transport that just ends looks like a network failure: both clients reconnect on their
      own, after about a second, and the cluster hands the new connection to a worker that serves.

    So each engine.io session is closed without its CLOSE packet (``abort``) and its transport is
    woken: a WebSocket's writer sends what is queued, then closes the WebSocket; a pending long-poll
    is answered (empty), and the client's next poll finds no session (400) and reconnects. A message
    sent to a client while it reconnects is not kept for it: Socket.IO delivers at most once.

    ``sockets``, ``close(abort=...)`` and ``queue`` are engine.io's, not a documented API:
    tests/test_drain.py stops servers with real clients connected, so a release that changes them
    shows up as a failing test.
    """

    def __init__(self, sio: socketio.AsyncServer) -> None:
        self.sio = sio
        self.shut_down = False
        # engine.io sessions with a long-poll in progress. engine.io drops a closed session from
        # its table, but a poll that was waiting on it goes on waiting (up to ping interval + ping
        # timeout, 45 s): a client that said goodbye over long-polling leaves one behind.
        self.polled: set[Any] = set()

    async def end_sessions(self, _app: web.Application) -> None:
        # aiohttp may send on_shutdown twice (a cluster worker sends it when it starts draining,
        # runner.cleanup() sends it again): the second time finds nothing left to end.
        self.shut_down = True
        for socket in {*self.sio.eio.sockets.values(), *self.polled}:
            if not socket.closed and not socket.closing:
                await socket.close(wait=False, abort=True)
            socket.queue.put_nowait(None)  # wakes the WebSocket's writer, or answers the pending poll

    @web.middleware
    async def middleware(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Note each long-poll while it waits; after shutdown, refuse Socket.IO requests.

        A request that still arrives after shutdown (on a connection already open) gets 503: a
        session opened now would hold the shutdown up, and the client retries elsewhere.
        """
        if not request.path.startswith("/socket.io/"):
            return await handler(request)
        if self.shut_down:
            return web.json_response({"error": "this server is shutting down: reconnect"}, status=503)
        sid = request.query.get("sid")
        socket = self.sio.eio.sockets.get(sid) if sid and request.method == "GET" else None
        if socket is None or request.query.get("transport") != "polling":
            return await handler(request)
        self.polled.add(socket)
        try:
            return await handler(request)
        finally:
            self.polled.discard(socket)


def _page(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    body = (STATIC / name).read_bytes()

    async def handler(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type=content_type, charset="utf-8")

    return handler


# Paths whose connections the sticky primary must route again: see _sticky_connections.
_STICKY_PATHS = ("/socket.io/", "/chat", "/static/")


@web.middleware
async def _sticky_connections(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """In sticky mode, keep one connection from carrying requests of two sessions.

    The primary routes a connection by its first request only. A browser reuses idle keep-alive
    connections for any request to the same origin, so a connection that was routed for one tab
    could carry the next poll of another tab's session, owned by another worker. So every
    chat-related response closes its connection (the next request comes on a new one, routed by
    its own sid), and a request that still arrives for another worker's session is answered 421
    Misdirected Request instead of being mistaken for a session that never existed.
    """
    if not request.path.startswith(_STICKY_PATHS):
        return await handler(request)
    sid = request.query.get("sid", "")
    owner = owner_pid(sid) if sid else None
    if owner is not None and owner != os.getpid():
        response: web.StreamResponse = web.json_response(
            {"error": f"session {sid[:40]} belongs to worker {owner}, not {os.getpid()}: reconnect"}, status=421
        )
    else:
        response = await handler(request)
    # A WebSocket stays open for its session's life: it is one connection, one session already.
    if not isinstance(response, web.WebSocketResponse):
        response.force_close()
    return response


def _register_handlers(sio: socketio.AsyncServer, config: ChatConfig) -> None:
    pid = os.getpid()

    async def reject(sid: str, event: str, problem: str) -> None:
        await sio.emit("error", {"event": event, "error": problem}, to=sid)

    @sio.event
    async def connect(sid: str, _environ: dict, _auth: Any = None) -> None:
        await sio.emit("welcome", {"worker": pid}, to=sid)

    @sio.event
    async def join(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            room = _room(data, config)
        except BadEvent as exc:
            await reject(sid, "join", str(exc))
            return {"error": str(exc)}
        await sio.enter_room(sid, room)
        return {"room": room, "worker": pid}

    @sio.event
    async def chat(sid: str, data: Any = None) -> dict[str, Any]:
        try:
            message = _chat_message(data, config)
            if message["room"] not in sio.rooms(sid):
                raise BadEvent(f"join room {message['room']!r} before sending to it")
        except BadEvent as exc:
            await reject(sid, "chat", str(exc))
            return {"error": str(exc)}
        await sio.emit("chat", {**message, "from": sid, "worker": pid}, room=message["room"])
        return {"ok": True}

    @sio.on("*")
    async def unknown(event: str, sid: str, *_args: Any) -> None:
        await reject(sid, str(event)[:40], f"unknown event {str(event)[:40]!r}: use join or chat")


def _room(data: Any, config: ChatConfig) -> str:
    if not isinstance(data, dict):
        raise BadEvent('join needs an object {"room": name}')
    room = data.get("room")
    if not isinstance(room, str) or not room.strip():
        raise BadEvent('"room" must be a non-empty string')
    if len(room) > config.max_room_chars:
        raise BadEvent(f'"room" must be at most {config.max_room_chars} characters')
    return room


def _chat_message(data: Any, config: ChatConfig) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadEvent('chat needs an object {"room", "text", "seq", "sent_ms"}')
    room = _room(data, config)
    text = data.get("text")
    if not isinstance(text, str):
        raise BadEvent('"text" must be a string')
    if len(text) > config.max_text_chars:
        raise BadEvent(f'"text" must be at most {config.max_text_chars} characters')
    seq = data.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise BadEvent('"seq" must be a whole number >= 0')
    sent_ms = data.get("sent_ms")
    if isinstance(sent_ms, bool) or not isinstance(sent_ms, int | float) or not math.isfinite(sent_ms):
        raise BadEvent('"sent_ms" must be a number (milliseconds since the epoch)')
    return {"room": room, "text": text, "seq": seq, "sent_ms": sent_ms}
