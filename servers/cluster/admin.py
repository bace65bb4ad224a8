"""GET /cluster-health on a loopback admin port, answered inside the primary's selector loop.

It is a tiny HTTP/1.0 responder, not a web framework: the primary must stay a single-threaded
loop whose work is bounded, so each admin connection is read without blocking, capped in size
and time, answered with one JSON document and closed.
"""

from __future__ import annotations

import json
import logging
import selectors
import socket
import time
from collections.abc import Callable
from typing import Any

from servers.listen import LOOPBACK, open_listener

log = logging.getLogger("cluster")

MAX_REQUEST_BYTES = 8192
READ_TIMEOUT_S = 5.0


class AdminServer:
    def __init__(self, selector: selectors.BaseSelector, port: int, health: Callable[[], dict[str, Any]]) -> None:
        self.selector = selector
        self.health = health
        # Always loopback, whatever --host says: cluster internals are nobody else's business.
        self.sock = open_listener(LOOPBACK, port, backlog=16)
        self.port: int = self.sock.getsockname()[1]
        self.pending: dict[socket.socket, tuple[bytearray, float]] = {}
        selector.register(self.sock, selectors.EVENT_READ, self._accept)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.warning("admin accept failed: %s", exc)
                return
            conn.setblocking(False)
            self.pending[conn] = (bytearray(), time.monotonic() + READ_TIMEOUT_S)
            self.selector.register(conn, selectors.EVENT_READ, self._read)

    def _read(self, conn: socket.socket) -> None:
        buffer, _deadline = self.pending[conn]
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        buffer += data
        if b"\r\n\r\n" in buffer or b"\n\n" in buffer:
            self._answer(conn, bytes(buffer))
        elif len(buffer) > MAX_REQUEST_BYTES:
            self._respond(conn, 431, {"error": "request header too large"})

    def _answer(self, conn: socket.socket, request: bytes) -> None:
        parts = request.split(b"\r\n", 1)[0].split(b"\n", 1)[0].split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
            self._respond(conn, 400, {"error": "malformed request line"})
        elif parts[0] != b"GET":
            self._respond(conn, 405, {"error": "only GET is allowed"})
        elif parts[1].split(b"?", 1)[0] != b"/cluster-health":
            self._respond(conn, 404, {"error": "not found: try GET /cluster-health"})
        else:
            self._respond(conn, 200, self.health())

    def _respond(self, conn: socket.socket, status: int, body: dict[str, Any]) -> None:
        reasons = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Too Large"}
        payload = json.dumps(body, indent=1).encode()
        head = (
            f"HTTP/1.0 {status} {reasons[status]}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
        ).encode()
        try:
            conn.setblocking(True)
            conn.settimeout(1.0)  # a few KB to a local socket: bounded, and never a stall of the loop
            conn.sendall(head + payload)
        except OSError:
            pass
        self._drop(conn)

    def close_overdue(self) -> None:
        now = time.monotonic()
        for conn in [c for c, (_b, deadline) in self.pending.items() if deadline <= now]:
            self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        self.pending.pop(conn, None)
        try:
            self.selector.unregister(conn)
        except (KeyError, ValueError):
            pass
        conn.close()

    def close(self) -> None:
        for conn in list(self.pending):
            self._drop(conn)
        try:
            self.selector.unregister(self.sock)
        except (KeyError, ValueError):
            pass
        self.sock.close()
