"""``sticky``: a Socket.IO session's requests all reach the worker that holds it.

Socket.IO's long-polling transport sends each request of one session on whatever connection the
client has free, and a session lives in one worker's memory. So the primary accepts every
connection, peeks at its request line (MSG_PEEK: the bytes stay in the socket for the worker)
and routes by the ``sid`` in it, as @socket.io/sticky does for Node:

- a request with a sid goes to the worker that owns that session. In sticky mode a worker's
  engine.io ids start with its pid (servers/session_ids.py), so the sid itself names its owner and the
  primary keeps no table of sessions;
- anything else (a handshake, a plain HTTP request) goes to the next worker in turn.

Only a connection's first request line is read. A line split over several TCP segments is
waited for (up to ``peek_timeout``) before it is routed. servers/chat.py closes every chat
connection after its response in sticky mode, so no connection carries requests of two sessions.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Sequence

from plumbing import env
from servers.cluster.policies.base import RoutableWorker
from servers.cluster.policies.handoff import NeedMoreBytes
from servers.cluster.policies.round_robin import RoundRobinPolicy
from servers.session_ids import owner_pid, sid_in_request_line

# The request line and a little more: enough for the sid, which travels in the query string.
PEEK_BYTES = 2048


def request_line(head: bytes) -> bytes | None:
    """The first line of an HTTP request, or None while it has not all arrived."""
    line, newline, _rest = head.partition(b"\n")
    if not newline and len(head) < PEEK_BYTES:
        return None
    return line.rstrip(b"\r")


def owner_of(line: bytes, workers: Sequence[RoutableWorker]) -> RoutableWorker | None:
    """The worker whose session the request line names, if it is one of ``workers``."""
    sid = sid_in_request_line(line)
    owner = owner_pid(sid) if sid else None
    return next((w for w in workers if w.pid == owner), None)


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
        os.environ[env.CHAT_STICKY] = "1"
        super().open()

    def choose(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> Iterable[RoutableWorker]:
        try:
            head = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except OSError:
            head = b""
        if not head:
            return []  # silent past peek_timeout, or already closed by the client: drop it
        line = request_line(head)
        if line is None:
            raise NeedMoreBytes
        owner = owner_of(line, workers)
        # No owner among the workers: a new session, or its worker has died and its sessions with
        # it (any worker will say so with a 421, and the client starts a new session).
        return [owner] if owner is not None else self.next_in_turn(workers)

    def choose_blind(self, workers: Sequence[RoutableWorker]) -> Iterable[RoutableWorker]:
        return []  # a silent connection past peek_timeout is closed, not routed blind
