"""The Locust scenarios corelab can run, by short name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from plumbing.procs import PROJECT_ROOT

LOADTESTS = PROJECT_ROOT / "loadtests"


@dataclass(frozen=True)
class Scenario:
    name: str
    locustfile: Path
    users: int  # a default that saturates the server without overloading the generator
    summary: str
    # Users start over this many seconds; 0: all at once (``-u N -r N``), as a student's own
    # ``locust -u 20 -r 20`` does. The cluster's default policy (rr) gives every worker
    # connections even then (``corelab.lessons.connections.bursts`` measures it), so a ramp is kept only where it
    # models how the scenario's clients arrive, never to dodge a policy that balances badly.
    ramp_s: float = 0.0


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("cpu", LOADTESTS / "cpu.py", 8, "GET /work?ms=10: 10 ms of pure-Python CPU per request"),
        Scenario("hello", LOADTESTS / "hello.py", 8, "GET /: no work at all"),
        Scenario("io", LOADTESTS / "io_wait.py", 50, "GET /io?ms=50: 50 ms of waiting, no CPU"),
        Scenario(
            "chat",
            LOADTESTS / "chat.py",
            20,
            "Socket.IO users in rooms of 4, one message each every 0.5 s: delivery ratio and latency",
            # People join a chat over time; twenty handshakes in the same instant are not a chat.
            ramp_s=2.0,
        ),
        Scenario(
            "keepalive",
            LOADTESTS / "keepalive.py",
            20,
            "GET /work?ms=5, 10/s per user, each user on one keep-alive connection",
            # Clients of a service arriving over a couple of seconds, each at its own steady rate.
            ramp_s=2.0,
        ),
        Scenario(
            "short",
            LOADTESTS / "short_connections.py",
            20,
            "GET /work?ms=5, 10/s per user, a new connection per request",
            ramp_s=2.0,  # the same arriving clients as "keepalive"
        ),
        Scenario(
            "cpu_no_retry", LOADTESTS / "cpu_no_retry.py", 8, "GET /work?ms=10 through a client that never retries"
        ),
        Scenario(
            "burst",
            LOADTESTS / "burst.py",
            20,
            "GET /work?ms=10, closed loop, one keep-alive connection per user, every user connecting at once",
        ),
        Scenario("blocked", LOADTESTS / "blocked_loop.py", 5, "GET /work?ms=50&offload=MODE beside a /health probe"),
        Scenario(
            "shared_state",
            LOADTESTS / "shared_state.py",
            4,
            "GET /limited and /visit: a per-client rate limit and a visit counter (CORELAB_STATE=memory|redis)",
        ),
    )
}


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}: choose from {', '.join(SCENARIOS)}") from None
