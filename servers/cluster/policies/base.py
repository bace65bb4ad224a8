"""What every connection policy offers the primary and the workers: one small interface.

A policy decides how a client's connection reaches a worker. It has two sides, as Node's
cluster has a handle per policy (``shared_handle.js``, ``round_robin_handle.js``):

- in a worker, ``worker_site`` says how that worker takes connections itself (an aiohttp site
  on a listening socket), or None when the primary hands them over;
- in the primary, a policy that accepts connections (``accepts_in_primary``) is ``attach``ed to
  the primary's selector with a ``Router``, and from then on accepts, chooses a worker and hands
  the connection over by itself. ``tick`` lets it act on time (a peek that waited too long).
"""

from __future__ import annotations

import selectors
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from aiohttp import web


class PolicyConfig(Protocol):
    """What a policy reads of the cluster's config: the address to claim and its own name.

    ``servers.cluster.config.ClusterConfig`` has these; naming only them here means the registry
    and the policies never import the config, which imports the registry for its names.
    """

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def policy(self) -> str: ...


class RoutableWorker(Protocol):
    """What a policy may know of a worker when it routes: the primary's worker records."""

    pid: int
    slot: int


class Router(Protocol):
    """What the primary offers a policy that hands connections out."""

    def ready_workers(self) -> Sequence[RoutableWorker]:
        """The workers taking new connections, ordered by slot (may be empty)."""

    def hand_over(self, worker: RoutableWorker, conn: socket.socket) -> bool:
        """Send ``conn`` to ``worker``; False when that worker cannot take it (dying or hung)."""


class Policy(Protocol):
    name: str
    # True: the primary accepts every connection and hands it to a worker (attach/tick matter).
    accepts_in_primary: bool

    def open(self) -> None:
        """In the primary, before any worker starts: claim the port or raise ListenError."""

    def worker_site(self, runner: web.BaseRunner) -> web.BaseSite | None:
        """In a worker: the site it accepts on, or None when the primary hands connections over."""

    def attach(self, selector: selectors.BaseSelector, router: Router) -> None:
        """In the primary: start handing out connections through ``router`` (routing policies)."""

    def tick(self, now: float) -> float | None:
        """In the primary, every loop: act on time; return the next moment it needs a call, if any."""

    def forget_in_child(self) -> None:
        """In a freshly forked worker: close what belongs to the primary alone."""

    def close(self) -> None:
        """In the primary: stop taking new connections and let go of the port."""


class WorkersAccept:
    """The part shared by policies whose workers accept for themselves: the primary never routes."""

    accepts_in_primary = False

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config

    def attach(self, selector: selectors.BaseSelector, router: Router) -> None:
        pass

    def tick(self, now: float) -> float | None:
        return None

    def forget_in_child(self) -> None:
        pass
