"""The sticky policy: a Socket.IO session's requests all reach the worker that holds it.

Socket.IO's long-polling transport sends each request of one session on whatever connection the
client has free, and a session lives in one worker's memory. So the primary accepts every
connection, peeks at its first bytes (MSG_PEEK: they stay in the socket for the worker to read)
and routes by the ``sid`` in the request line, as @socket.io/sticky does for Node:

- a request with a sid goes to the worker that owns that session. In sticky mode a worker's
  engine.io ids start with its pid (servers/chat.py), so the sid itself names its owner and the
  primary keeps no table of sessions;
- anything else (a handshake, a plain HTTP request) goes to the next worker in turn.

Only a connection's first request is read, and only what has arrived when the connection first
becomes readable: a request line split over two TCP segments before its sid is routed in turn
(the wrong worker then answers 421 and the client starts a new session). servers/chat.py closes
every chat connection after its response in sticky mode, so no connection carries requests of
two sessions.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Sequence

from servers.chat import STICKY_ENV, owner_pid
from servers.cluster.policies import RoundRobinPolicy, RoutableWorker

# The request line and a little more: enough for the sid, which travels in the query string.
PEEK_BYTES = 2048
_SID = re.compile(rb"[?&]sid=([A-Za-z0-9._~%-]+)")


def sid_in_request_line(head: bytes) -> str | None:
    """The ``sid`` query parameter of the first line of an HTTP request, if there is one."""
    line = head.split(b"\r\n", 1)[0]
    match = _SID.search(line)
    return match.group(1).decode("ascii") if match else None


class StickyPolicy(RoundRobinPolicy):
    name = "sticky"
    peeks = True
    # A connection that says nothing for this long is closed, not routed: browsers open spare
    # connections ahead of need, and one routed blind could later carry a sid of another worker.
    # A browser that does use it after the close retries on a new connection.
    peek_timeout = 10.0

    def open(self) -> None:
        # The workers are forked from this process after open(): they inherit sticky mode, in which
        # their session ids carry their pid (servers/chat.py) and chat connections close after use.
        os.environ[STICKY_ENV] = "1"
        super().open()

    def route(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> list[RoutableWorker]:
        try:
            head = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except OSError:
            head = b""
        if not head:
            return []  # silent past peek_timeout, or already closed by the client: drop it
        sid = sid_in_request_line(head)
        owner = owner_pid(sid) if sid else None
        if owner is not None:
            for worker in workers:
                if worker.pid == owner:
                    return [worker]
            # The owner has died and its sessions with it: any worker will say so (421) and the
            # client starts a new session.
        return super().route(conn, workers)
