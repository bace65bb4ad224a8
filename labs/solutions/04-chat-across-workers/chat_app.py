"""Lab 4, a solution, part 2: the chat, its rooms shared by every worker through Redis.

Protocol (any Socket.IO client): on connect the server emits ``welcome`` {"worker": pid}; the
client emits ``join`` {"room": name}, then ``chat`` {"room", "text", ...}; the server emits
``chat`` to everyone in the room, with "worker": the pid that delivered it.

Rooms are shared through Redis: python-socketio's Redis manager publishes every emit on a
Redis channel, and every worker delivers it to the room members it holds.
"""

from __future__ import annotations

import os
import secrets
from typing import Any

import socketio
from aiohttp import web


def create_app() -> web.Application:
    """Called in each worker after the fork, so os.getpid() is the worker's own pid."""
    pid = os.getpid()
    # Every emit goes through Redis pub/sub; each worker delivers it to its own members of the room.
    manager = socketio.AsyncRedisManager(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    sio = socketio.AsyncServer(async_mode="aiohttp", client_manager=manager)
    # Given: a session id names the worker that holds it, w<pid>.<random>, so the primary can route it.
    sio.eio.generate_id = lambda: f"w{pid}.{secrets.token_urlsafe(12)}"

    @sio.event
    async def connect(sid: str, environ: dict, auth: Any = None) -> None:
        await sio.emit("welcome", {"worker": pid}, to=sid)

    @sio.event
    async def join(sid: str, data: Any = None) -> dict:
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str) or not 0 < len(room) <= 64:
            return {"error": 'join needs {"room": a name of 1 to 64 characters}'}
        await sio.enter_room(sid, room)
        return {"room": room, "worker": pid}

    @sio.event
    async def chat(sid: str, data: Any = None) -> dict:
        room = data.get("room") if isinstance(data, dict) else None
        if not isinstance(room, str) or room not in sio.rooms(sid):
            return {"error": "join a room before sending to it"}
        await sio.emit("chat", {**data, "from": sid, "worker": pid}, room=room)
        return {"ok": True}

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"pid": pid})

    app = web.Application()
    sio.attach(app)
    app.router.add_get("/health", health)
    return app
