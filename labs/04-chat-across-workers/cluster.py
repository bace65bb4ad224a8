"""Given: the kit's fork cluster (servers/cluster/) running chat_app.py, routed by routing.py.

    REDIS_URL=redis://127.0.0.1:6379/0 python cluster.py --workers 2 --port 8000

The primary accepts every connection, peeks at its first request line (MSG_PEEK: the bytes
stay in the socket for the worker), and hands the connection to the worker that
``routing.choose_worker`` names, as servers/cluster/policies/sticky.py does for the kit.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import sys
from collections.abc import Sequence

import routing

from servers.cluster.config import parse_args
from servers.cluster.policies.base import RoutableWorker
from servers.cluster.policies.handoff import NeedMoreBytes
from servers.cluster.policies.round_robin import RoundRobinPolicy
from servers.cluster.policies.sticky import PEEK_BYTES, request_line
from servers.cluster.primary import Primary
from servers.listen import ListenError


class RoutingPolicy(RoundRobinPolicy):
    """The kit's hand-off, asking routing.choose_worker which worker gets each connection."""

    name = "lab-routing"
    peeks = True
    peek_timeout = 10.0  # a connection that says nothing for this long is closed, not routed blind

    def choose(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> list[RoutableWorker]:
        try:
            head = conn.recv(PEEK_BYTES, socket.MSG_PEEK)
        except OSError:
            head = b""
        if not head:
            return []  # the client has gone
        line = request_line(head)
        if line is None:
            raise NeedMoreBytes  # the request line has not all arrived: ask again when more has
        chosen = routing.choose_worker(line, list(workers), self.turn)
        self.turn += 1
        # The chosen worker first; the others only if it cannot take the connection (dying).
        return [chosen, *(w for w in workers if w is not chosen)]

    def choose_blind(self, workers: Sequence[RoutableWorker]) -> list[RoutableWorker]:
        return []


def main() -> int:
    config = dataclasses.replace(parse_args(sys.argv[1:]), app="chat_app:create_app")
    logging.basicConfig(level=logging.INFO, format="cluster: %(message)s", stream=sys.stderr)
    primary = Primary(config, policy=RoutingPolicy(config))  # in place of the kit's --policy
    try:
        return primary.run()
    except ListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
