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
    # What one request costs the server, for the load plan (corelab.harness.plan) and the claims:
    # ms of pure-Python CPU (the limit is then the cores), and ms of waiting without CPU (the limit
    # is then the users). 0 where a request costs next to nothing.
    cpu_ms: float = 0.0
    wait_ms: float = 0.0
    # A closed loop that keeps the server busy: each user sends its next request when the last is
    # answered, so the plan gives it users in proportion to the workers (every worker kept busy).
    # False for paced or stateful scenarios whose users are part of what they measure.
    saturating: bool = False
    # Requests a second each user sends when the scenario paces its users (0: a closed loop).
    paced_rps_per_user: float = 0.0
    # The Locust client its users run on: "fast" (FastHttpUser), "requests" (HttpUser) or "socketio";
    # each sends a different number of requests a second per core of the load generator.
    client: str = "fast"
    # The scenario keeps one ledger of what its users saw (chat's deliveries, shared_state's counts),
    # written by the one Locust process that ran them all: it cannot be split over K > 1 generators.
    one_generator: bool = False
    # Settings that grow with the server's workers, handed to Locust as CORELAB_<NAME> = factor x
    # workers unless the caller's params set them (e.g. shared_state sends 2x the limit per worker).
    per_worker: tuple[tuple[str, int], ...] = ()


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "cpu",
            LOADTESTS / "cpu.py",
            8,
            "GET /work?ms=10: 10 ms of pure-Python CPU per request",
            cpu_ms=10,
            saturating=True,
        ),
        Scenario("hello", LOADTESTS / "hello.py", 8, "GET /: no work at all", saturating=True),
        Scenario("io", LOADTESTS / "io_wait.py", 50, "GET /io?ms=50: 50 ms of waiting, no CPU", wait_ms=50),
        Scenario(
            "chat",
            LOADTESTS / "chat.py",
            20,
            "Socket.IO users in rooms of 4, one message each every 0.5 s: delivery ratio and latency",
            # People join a chat over time; twenty handshakes in the same instant are not a chat.
            ramp_s=2.0,
            client="socketio",
            one_generator=True,
        ),
        Scenario(
            "keepalive",
            LOADTESTS / "keepalive.py",
            20,
            "GET /work?ms=5, 10/s per user, each user on one keep-alive connection",
            # Clients of a service arriving over a couple of seconds, each at its own steady rate.
            ramp_s=2.0,
            cpu_ms=5,
            paced_rps_per_user=10,
        ),
        Scenario(
            "short",
            LOADTESTS / "short_connections.py",
            20,
            "GET /work?ms=5, 10/s per user, a new connection per request",
            ramp_s=2.0,  # the same arriving clients as "keepalive"
            cpu_ms=5,
            paced_rps_per_user=10,
        ),
        Scenario(
            "cpu_no_retry",
            LOADTESTS / "cpu_no_retry.py",
            8,
            "GET /work?ms=10 through a client that never retries",
            cpu_ms=10,
            saturating=True,
            client="requests",
        ),
        Scenario(
            "burst",
            LOADTESTS / "burst.py",
            20,
            "GET /work?ms=10, closed loop, one keep-alive connection per user, every user connecting at once",
            cpu_ms=10,
        ),
        Scenario("blocked", LOADTESTS / "blocked_loop.py", 5, "GET /work?ms=50&offload=MODE beside a /health probe"),
        Scenario(
            "shared_state",
            LOADTESTS / "shared_state.py",
            4,
            "GET /limited and /visit: a per-client rate limit and a visit counter (CORELAB_STATE=memory|redis)",
            one_generator=True,
            # N workers in memory each admit the limit: a client must send more than N times it to show
            # it, and the counter must be read often enough to reach every worker.
            per_worker=(("oversend", 2), ("reads", 4)),
        ),
    )
}


def one_core_rps(scenario: str) -> float | None:
    """The most requests a second one core can serve in a closed-loop CPU scenario (1000 / its CPU ms),
    or None where CPU is not what limits it (no CPU per request, or users paced to a rate)."""
    scen = SCENARIOS.get(scenario)
    if scen is None or not scen.cpu_ms or scen.paced_rps_per_user:
        return None
    return 1000 / scen.cpu_ms


def users_limit_rps(scenario: str, users: int) -> float | None:
    """The most requests a second ``users`` closed-loop users can ask for when each request waits
    without CPU (users * 1000 / its wait ms), or None where the scenario does not wait."""
    scen = SCENARIOS.get(scenario)
    return users * 1000 / scen.wait_ms if scen is not None and scen.wait_ms else None


def get_scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}: choose from {', '.join(SCENARIOS)}") from None
