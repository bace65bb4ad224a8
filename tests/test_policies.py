"""The policies' routing decisions, in milliseconds: real sockets, no server, no worker.

The real-process tests (test_cluster.py, test_cluster_lifecycle.py, test_burst.py) show the
policies at work; these pin down each decision on its own: whose turn it is, which sid a
request line names, what a split request line waits for, and what the registry offers.
"""

from __future__ import annotations

import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from servers.cluster.config import ClusterConfig, parse_args
from servers.cluster.policies import BALANCING_POLICIES, DEFAULT_POLICY, POLICIES, make_policy, policy_class
from servers.cluster.policies.handoff import REPEEK_INTERVAL_S, NeedMoreBytes
from servers.cluster.policies.round_robin import RoundRobinPolicy, in_turn
from servers.cluster.policies.sticky import StickyPolicy, request_line
from servers.session_ids import sid_in_request_line


@dataclass(frozen=True)
class W:
    pid: int
    slot: int


@dataclass
class RecordingRouter:
    """The primary's side of the hand-off, recording which worker got each connection."""

    workers: list[W]
    handed: list[tuple[int, bytes]] = field(default_factory=list)

    def ready_workers(self) -> list[W]:
        return self.workers

    def hand_over(self, worker: W, conn: socket.socket) -> bool:
        self.handed.append((worker.pid, conn.recv(4096, socket.MSG_PEEK | socket.MSG_DONTWAIT)))
        return True


WORKERS = [W(101, 0), W(202, 1), W(303, 2)]


def test_the_registry_names_every_policy_once_with_rr_the_default() -> None:
    assert DEFAULT_POLICY == "rr"
    assert parse_args([]).policy == "rr"
    assert set(BALANCING_POLICIES) == set(POLICIES) - {"sticky"}
    for name in POLICIES:
        assert policy_class(name).name == name
        assert make_policy(ClusterConfig(policy=name)).name == name


def test_round_robin_offers_each_worker_in_turn_and_the_rest_after_it() -> None:
    assert [w.pid for w in in_turn(4, WORKERS)] == [202, 303, 101]
    policy = RoundRobinPolicy(ClusterConfig())
    firsts = [next(iter(policy.choose(None, WORKERS))).pid for _ in range(6)]  # type: ignore[arg-type]
    assert firsts == [101, 202, 303, 101, 202, 303]


class CountedWorkers(list):
    """A list of workers that counts how many of them were looked at."""

    looked_at = 0

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        self.looked_at += 1
        return super().__getitem__(index)


@pytest.mark.parametrize("n", [2, 64])
def test_round_robins_next_worker_costs_one_look_however_many_workers(n: int) -> None:
    workers = CountedWorkers(WORKERS[i % len(WORKERS)] for i in range(n))
    policy = RoundRobinPolicy(ClusterConfig())
    for _ in range(n + 3):
        next(iter(policy.choose(None, workers)))  # type: ignore[arg-type]
    assert workers.looked_at == n + 3  # one worker looked at per connection, not n


@pytest.mark.parametrize(
    ("head", "line"),
    [
        (b"GET /socket.io/?EIO=4&sid=w42.abc HTTP/1.1\r\nHost: x\r\n", b"GET /socket.io/?EIO=4&sid=w42.abc HTTP/1.1"),
        (b"GET / HTTP/1.1\n", b"GET / HTTP/1.1"),
        (b"GET /socket.io/?EIO=4&si", None),  # split before its sid: wait for the rest
        (b"", None),
        (b"X" * 2048, b"X" * 2048),  # a line longer than the peek: decide on what there is
    ],
)
def test_a_request_line_is_whole_only_once_its_newline_has_arrived(head: bytes, line: bytes | None) -> None:
    assert request_line(head) == line


def test_the_sid_is_read_from_the_query_string_only() -> None:
    assert sid_in_request_line(b"GET /socket.io/?EIO=4&transport=polling&sid=w42.Zx-_9 HTTP/1.1") == "w42.Zx-_9"
    assert sid_in_request_line(b"GET /socket.io/?sid=w7.a HTTP/1.1") == "w7.a"
    assert sid_in_request_line(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1") is None
    assert sid_in_request_line(b"GET /nosid=w42.x HTTP/1.1") is None


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    server.setblocking(False)
    yield client, server
    client.close()
    server.close()


def test_sticky_sends_a_session_to_its_owner_and_a_handshake_in_turn(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    policy = StickyPolicy(ClusterConfig(policy="sticky"))
    client.sendall(b"GET /socket.io/?EIO=4&transport=polling&sid=w303.abc HTTP/1.1\r\n\r\n")
    assert [w.pid for w in policy.choose(server, WORKERS)] == [303]
    # A session of a worker that has gone: routed in turn (that worker answers 421, the client starts over).
    client.sendall(b"GET /socket.io/?EIO=4&sid=w999.abc HTTP/1.1\r\n")
    assert next(iter(policy.choose(server, WORKERS))).pid in {101, 202, 303}


def test_sticky_waits_for_a_split_request_line_and_drops_a_silent_connection(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    policy = StickyPolicy(ClusterConfig(policy="sticky"))
    assert policy.choose(server, WORKERS) == []  # nothing to read: dropped, not routed blind
    client.sendall(b"GET /socket.io/?EIO=4&transport=polling&si")
    with pytest.raises(NeedMoreBytes):
        policy.choose(server, WORKERS)
    client.sendall(b"d=w202.x HTTP/1.1\r\n")
    assert [w.pid for w in policy.choose(server, WORKERS)] == [202]


def test_the_hand_off_routes_a_split_line_once_it_is_whole_without_holding_up_others() -> None:
    """Through the primary's real accept and peek path: a slow client waits, the others go on."""
    policy = StickyPolicy(ClusterConfig(policy="sticky", port=0))
    policy.open()
    assert policy.sock is not None
    port = policy.sock.getsockname()[1]
    router = RecordingRouter(WORKERS)
    selector = selectors.DefaultSelector()
    policy.attach(selector, router)

    def run_loop(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            wake = policy.tick(time.monotonic())
            timeout = 0.01 if wake is None else max(0.0, min(0.01, wake - time.monotonic()))
            for key, _ in selector.select(timeout):
                key.data(key.fileobj)

    slow = socket.create_connection(("127.0.0.1", port))
    silent = socket.create_connection(("127.0.0.1", port))
    quick = socket.create_connection(("127.0.0.1", port))
    try:
        slow.sendall(b"GET /socket.io/?EIO=4&transport=polling&s")
        quick.sendall(b"GET /socket.io/?EIO=4&transport=polling&sid=w101.q HTTP/1.1\r\n\r\n")
        run_loop(0.2)
        assert [pid for pid, _ in router.handed] == [101]  # the quick one went; the slow one waits
        slow.sendall(b"id=w303.s HTTP/1.1\r\n\r\n")
        run_loop(10 * REPEEK_INTERVAL_S)
        assert [pid for pid, _ in router.handed] == [101, 303]
        assert router.handed[1][1].startswith(b"GET /socket.io/?EIO=4&transport=polling&sid=w303.s")
        assert len(policy.peeking) == 1  # the silent one, still within its peek_timeout
    finally:
        for conn in (slow, silent, quick):
            conn.close()
        policy.close()
        selector.close()
    assert policy.peeking == {}


def test_a_policy_for_a_one_process_variant_is_a_one_line_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "corelab", "bench", "--variant", "single", "--policy", "rr"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cluster" in done.stderr and "single" in done.stderr
