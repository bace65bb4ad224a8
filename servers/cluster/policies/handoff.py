"""The primary's side of the policies that hand connections out (``rr``, ``sticky``).

The primary owns the listening socket. It accepts a connection, asks the policy which workers
to offer it to (``choose``, best first), and sends it to the first that takes it over the
worker's Unix socket (SCM_RIGHTS, servers/cluster/protocol.py). Node's round_robin_handle.js
does the same. The primary accepts only while some worker is ready: until then the kernel's
backlog holds the connections (accepting with nobody to hand them to would leave only closing
them).

A policy that must read a request first (``peeks``) gets the connection once it is readable,
and is asked again while what has arrived is not yet a whole request line, until
``peek_timeout``. The peek uses MSG_PEEK, so the bytes stay in the socket for the worker. A
silent client only waits in the selector: it never holds up routing for the others.
"""

from __future__ import annotations

import logging
import selectors
import socket
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from aiohttp import web

from servers.cluster.policies.base import RoutableWorker, Router
from servers.listen import open_listener

if TYPE_CHECKING:
    from servers.cluster.policies.base import PolicyConfig

log = logging.getLogger("cluster")

# How soon a peeking policy looks again at a connection whose request line is still partial.
REPEEK_INTERVAL_S = 0.005


class NeedMoreBytes(Exception):
    """Raised by ``choose`` when the bytes so far cannot decide yet: ask again when more arrive."""


class HandOff:
    """Accept in the primary and hand each connection to a worker the policy chooses."""

    accepts_in_primary = True
    # Subclasses that must read the request line first set these.
    peeks = False
    peek_timeout = 0.0

    def __init__(self, config: PolicyConfig) -> None:
        self.config = config
        self.sock: socket.socket | None = None
        self.selector: selectors.BaseSelector | None = None
        self.router: Router | None = None
        self.accepting = False
        # Connections waiting to be peeked at: socket -> (deadline, when to look again or None).
        self.peeking: dict[socket.socket, tuple[float, float | None]] = {}

    # -- what a subclass decides ----------------------------------------------------------------

    def choose(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> Iterable[RoutableWorker]:
        """The workers to offer ``conn`` to, best first; empty: drop it. ``workers`` is never empty."""
        raise NotImplementedError

    # -- the policy interface -----------------------------------------------------------------

    def open(self) -> None:
        self.sock = open_listener(self.config.host, self.config.port)

    def worker_site(self, runner: web.BaseRunner) -> web.BaseSite | None:
        return None  # the worker takes what the primary sends it

    def attach(self, selector: selectors.BaseSelector, router: Router) -> None:
        self.selector, self.router = selector, router

    def tick(self, now: float) -> float | None:
        self._accept_only_when_routable()
        for conn, (deadline, again) in list(self.peeking.items()):
            if now >= deadline or (again is not None and now >= again):
                self._route_peeked(conn, now)
        waits = [again if again is not None else deadline for deadline, again in self.peeking.values()]
        return min(waits, default=None)

    def forget_in_child(self) -> None:
        if self.sock is not None:
            self.sock.close()
        for conn in self.peeking:
            conn.close()

    def close(self) -> None:
        if self.sock is not None:
            if self.accepting and self.selector is not None:
                self.selector.unregister(self.sock)
            self.sock.close()
            self.sock = None
        self.accepting = False
        for conn in list(self.peeking):
            self._forget_peek(conn)
            conn.close()

    # -- accepting and handing over ------------------------------------------------------------

    def _accept_only_when_routable(self) -> None:
        if self.sock is None or self.selector is None or self.router is None:
            return
        want = bool(self.router.ready_workers())
        if want and not self.accepting:
            self.selector.register(self.sock, selectors.EVENT_READ, self._accept_all)
        elif not want and self.accepting:
            self.selector.unregister(self.sock)
        self.accepting = want

    def _accept_all(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: leave the rest in the backlog for the next round
                log.warning("accept failed: %s", exc)
                return
            if self.peeks:
                conn.setblocking(False)
                self.peeking[conn] = (time.monotonic() + self.peek_timeout, None)
                assert self.selector is not None
                self.selector.register(conn, selectors.EVENT_READ, self._on_readable)
            else:
                with conn:
                    self._hand_over(conn)

    def _on_readable(self, conn: socket.socket) -> None:
        self._route_peeked(conn, time.monotonic())

    def _route_peeked(self, conn: socket.socket, now: float) -> None:
        deadline, _again = self.peeking[conn]
        try:
            self._hand_over(conn, final=now >= deadline)
        except NeedMoreBytes:
            # A partial request line: stop watching (it stays readable) and look again shortly.
            if self.peeking[conn][1] is None:
                assert self.selector is not None
                self.selector.unregister(conn)
            self.peeking[conn] = (deadline, now + REPEEK_INTERVAL_S)
            return
        self._forget_peek(conn)
        conn.close()  # the worker has its own copy of the descriptor now

    def _forget_peek(self, conn: socket.socket) -> None:
        _deadline, again = self.peeking.pop(conn)
        if again is None and self.selector is not None:
            self.selector.unregister(conn)

    def _hand_over(self, conn: socket.socket, final: bool = True) -> None:
        """Offer ``conn`` to the workers ``choose`` names, in order, until one takes it."""
        assert self.router is not None
        workers = self.router.ready_workers()
        if not workers:
            return  # nobody can take it: closing it is the honest answer (the client sees a reset)
        try:
            candidates = self.choose(conn, workers)
        except NeedMoreBytes:
            if not final:
                raise
            candidates = self.choose_blind(workers)
        for worker in candidates:
            if self.router.hand_over(worker, conn):
                return

    def choose_blind(self, workers: Sequence[RoutableWorker]) -> Iterable[RoutableWorker]:
        """Where a peek never got a whole request line: any worker will do (it answers 400 or 421)."""
        return list(workers)
