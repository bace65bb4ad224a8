"""How client connections reach the workers: small objects with one interface.

- ``SharedPolicy``: the primary opens one listening socket; every worker inherits it and
  accepts on it. The kernel wakes whichever worker it likes, so the spread is the OS's choice.
- ``ReusePortPolicy``: each worker opens its own SO_REUSEPORT socket on the same port; Linux
  spreads new connections across them by a hash of the client's address and port.
- ``RoundRobinPolicy``: the primary accepts every connection and hands it to the next worker
  over that worker's Unix socket (SCM_RIGHTS): Node's default policy.

A policy whose ``primary_listener`` is not None chooses the worker for every connection the
primary accepts, in ``route``. A policy that must read the first bytes first (a sticky policy
peeking with MSG_PEEK) sets ``peeks = True``: the primary then waits until the accepted
connection is readable (or ``peek_timeout`` passes) before it calls ``route``.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from typing import Protocol

from servers.cluster.config import ClusterConfig
from servers.listen import open_listener


class RoutableWorker(Protocol):
    """What a policy may know of a worker when it routes: the primary's Worker records."""

    pid: int
    slot: int


class Policy(Protocol):
    name: str
    # True: call ``route`` only once the accepted connection has bytes to read (or peek_timeout passed).
    peeks: bool
    peek_timeout: float

    def open(self) -> None:
        """In the primary, before any worker starts: claim the port or fail clearly."""

    def worker_listener(self) -> socket.socket | None:
        """In a worker: the socket it accepts on, or None when the primary hands connections over."""

    def primary_listener(self) -> socket.socket | None:
        """In the primary: a socket whose connections the primary accepts and distributes."""

    def route(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> list[RoutableWorker]:
        """In the primary: the workers to offer ``conn`` to, best first (the first that takes it wins).

        ``workers`` are the ready workers that take new connections, ordered by slot; never empty.
        Returning an empty list drops the connection (the client sees it closed).
        """

    def close(self) -> None:
        """Stop taking new connections (primary side)."""


class _NoRouting:
    """For policies where the workers accept for themselves: the primary never routes."""

    peeks = False
    peek_timeout = 0.0

    def route(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> list[RoutableWorker]:
        return list(workers)


class SharedPolicy(_NoRouting):
    name = "shared"

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = open_listener(self.config.host, self.config.port)

    def worker_listener(self) -> socket.socket | None:
        return self.sock

    def primary_listener(self) -> socket.socket | None:
        return None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class ReusePortPolicy(_NoRouting):
    name = "reuseport"

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config

    def open(self) -> None:
        # Bind once to learn whether the port is free and the option exists, then let go: a
        # listening socket in the primary would get its share of connections and never accept them.
        probe = open_listener(self.config.host, self.config.port, reuse_port=True)
        probe.close()

    def worker_listener(self) -> socket.socket | None:
        return open_listener(self.config.host, self.config.port, reuse_port=True)

    def primary_listener(self) -> socket.socket | None:
        return None

    def close(self) -> None:
        pass


class RoundRobinPolicy:
    name = "rr"
    peeks = False
    peek_timeout = 0.0

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.sock: socket.socket | None = None
        self.turn = 0

    def open(self) -> None:
        self.sock = open_listener(self.config.host, self.config.port)

    def worker_listener(self) -> socket.socket | None:
        return None

    def primary_listener(self) -> socket.socket | None:
        return self.sock

    def route(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> list[RoutableWorker]:
        # Next in turn first; the others follow in case that one has just died.
        start = self.turn % len(workers)
        self.turn += 1
        return [*workers[start:], *workers[:start]]

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


# Policy name -> class; a new policy adds itself here (and its name to config.POLICIES).
POLICY_CLASSES: dict[str, type] = {"shared": SharedPolicy, "reuseport": ReusePortPolicy, "rr": RoundRobinPolicy}


def make_policy(config: ClusterConfig) -> Policy:
    if config.policy == "sticky":
        # Imported here, not registered above: sticky.py builds on RoundRobinPolicy (an import cycle).
        from servers.cluster.sticky import StickyPolicy

        return StickyPolicy(config)
    return POLICY_CLASSES[config.policy](config)
