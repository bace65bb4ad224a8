"""Lab 4, part 1: which worker gets a new connection.

The primary (cluster.py, the kit's) accepts every connection, peeks at its first request line
without taking it from the socket, and asks ``choose_worker`` where to send it. A Socket.IO
session lives in one worker's memory, and its client sends many requests, often on new
connections: with long-polling every request after the handshake carries ``sid=...``.
In this lab a session id starts with the pid of the worker that holds it: ``sid=w4242.AbC...``.

  TODO 1  send a request that carries a sid to the worker whose pid the sid names;
          anything else (a handshake, a plain request) to the next worker in turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Worker(Protocol):
    pid: int


def choose_worker(request_line: bytes, workers: Sequence[Worker], turn: int) -> Worker:
    """The worker for a connection whose first request line is ``request_line``.

    ``request_line`` looks like b"GET /socket.io/?EIO=4&transport=polling&t=x&sid=w4242.AbC HTTP/1.1";
    ``workers`` are the workers ready now (never empty); ``turn`` counts the connections so far.
    """
    # TODO 1: round robin ignores the session, so half of a session's requests reach a worker
    # that has never heard of it ("Invalid session").
    return workers[turn % len(workers)]
