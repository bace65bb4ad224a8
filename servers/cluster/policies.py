"""How client connections reach the workers: small objects with one interface.

- ``SharedPolicy``: the primary opens one listening socket; every worker inherits it and
  accepts on it. The kernel wakes whichever worker it likes, so the spread is the OS's choice.
- ``ReusePortPolicy``: each worker opens its own SO_REUSEPORT socket on the same port; Linux
  spreads new connections across them by a hash of the client's address and port.
- ``RoundRobinPolicy``: the primary accepts every connection and hands it to the next worker
  over that worker's Unix socket (SCM_RIGHTS): Node's default policy.
"""

from __future__ import annotations

import socket
from typing import Protocol

from servers.cluster.config import ClusterConfig
from servers.listen import open_listener


class Policy(Protocol):
    name: str

    def open(self) -> None:
        """In the primary, before any worker starts: claim the port or fail clearly."""

    def worker_listener(self) -> socket.socket | None:
        """In a worker: the socket it accepts on, or None when the primary hands connections over."""

    def primary_listener(self) -> socket.socket | None:
        """In the primary: a socket whose connections the primary accepts and distributes."""

    def close(self) -> None:
        """Stop taking new connections (primary side)."""


class SharedPolicy:
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


class ReusePortPolicy:
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

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = open_listener(self.config.host, self.config.port)

    def worker_listener(self) -> socket.socket | None:
        return None

    def primary_listener(self) -> socket.socket | None:
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def make_policy(config: ClusterConfig) -> Policy:
    policies = {"shared": SharedPolicy, "reuseport": ReusePortPolicy, "rr": RoundRobinPolicy}
    return policies[config.policy](config)
