"""``rr``: the primary accepts every connection and hands it to the next worker in turn.

Node's default on Linux, chosen for the reason notebook 03 shows: when many clients connect
at the same moment, a shared socket can give them all to one worker, while round-robin gives
every worker its turn by construction. The price is the primary's work for each connection
(an accept and a descriptor sent over a Unix socket), measured by ``python -m corelab primary-cost``.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from servers.cluster.policies.base import RoutableWorker
from servers.cluster.policies.handoff import HandOff

if TYPE_CHECKING:
    from servers.cluster.policies.base import PolicyConfig


def in_turn(turn: int, workers: Sequence[RoutableWorker]) -> Iterator[RoutableWorker]:
    """The worker whose turn it is first, the others after it (in case that one has just died).
    Made one at a time: a connection almost always goes to the first, so its cost does not grow
    with the workers (the primary keeps ``workers`` between connections)."""
    n = len(workers)
    start = turn % n
    return (workers[(start + i) % n] for i in range(n))


class RoundRobinPolicy(HandOff):
    name = "rr"

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__(config)
        self.turn = 0

    def choose(self, conn: socket.socket, workers: Sequence[RoutableWorker]) -> Iterable[RoutableWorker]:
        return self.next_in_turn(workers)

    def choose_blind(self, workers: Sequence[RoutableWorker]) -> Iterable[RoutableWorker]:
        return self.next_in_turn(workers)

    def next_in_turn(self, workers: Sequence[RoutableWorker]) -> Iterator[RoutableWorker]:
        order = in_turn(self.turn, workers)
        self.turn += 1
        return order
