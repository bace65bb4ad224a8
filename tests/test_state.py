"""Shared state across workers: in memory it is silently wrong on a cluster, in Redis it is exact.

Every request here is a new connection (the standard library's client sends Connection: close),
so the rr policy spreads one client's requests over both workers, as a load balancer would.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest
import redis

from plumbing.procs import ManagedProcess, free_port, python_module
from plumbing.redis_server import RedisServer
from servers.state import StateConfig
from tests.http import Reply, get

LIMIT = 5
REQUESTS = 20  # 4 x the limit: enough for each of 2 workers to refuse some


@pytest.fixture
def state_cluster(serve: Callable, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """Start a 2-worker rr cluster with the given state backend; returns its URL."""

    def start(backend: str) -> str:
        # The server reads these when it starts; forked workers inherit them.
        monkeypatch.setenv("CORELAB_RATE_LIMIT", str(LIMIT))
        # A long window, and every count grouped by the window the server names: no test depends
        # on where the clock's window boundaries fall.
        monkeypatch.setenv("CORELAB_RATE_WINDOW_S", "600")
        # The backend by the cluster's own options (bench and the notebook set CORELAB_STATE instead).
        return serve("cluster", "--workers", "2", "--policy", "rr", "--state", backend, "--redis-url", redis_url).url

    return start


def per_window(replies: list[Reply]) -> dict[int, tuple[int, int]]:
    """window -> (requests, admitted), from the window each answer names."""
    sent: Counter[int] = Counter()
    admitted: Counter[int] = Counter()
    for reply in replies:
        assert reply.status in (200, 429), reply.body
        window = reply.json()["window"]
        sent[window] += 1
        admitted[window] += reply.status == 200
    return {w: (sent[w], admitted[w]) for w in sent}


def test_memory_state_on_two_workers_over_admits_and_miscounts(state_cluster: Callable[[str], str]) -> None:
    url = state_cluster("memory")
    replies = [get(f"{url}/limited?client=alice") for _ in range(REQUESTS)]
    assert len({r.worker_pid for r in replies}) == 2, "rr should spread new connections over both workers"
    windows = per_window(replies)
    # Each worker counts only the requests it served: alice gets up to 2 x the limit.
    assert max(admitted for _, admitted in windows.values()) > LIMIT, windows
    assert all(admitted <= 2 * LIMIT for _, admitted in windows.values()), windows
    assert all(r.json()["backend"] == "memory" for r in replies)

    for _ in range(REQUESTS):
        assert get(f"{url}/visit?page=home").status == 200
    reads = [get(f"{url}/visits?page=home") for _ in range(4)]
    seen = {r.worker_pid: r.json()["visits"] for r in reads}
    assert len(seen) == 2
    # Each worker shows its own share; together they add up to the truth, which no one of them shows.
    assert all(v < REQUESTS for v in seen.values()) and sum(seen.values()) == REQUESTS


def test_redis_state_on_two_workers_is_exact(state_cluster: Callable[[str], str]) -> None:
    url = state_cluster("redis")
    replies = [get(f"{url}/limited?client=bob") for _ in range(REQUESTS)]
    assert len({r.worker_pid for r in replies}) == 2
    for sent, admitted in per_window(replies).values():
        assert admitted == min(sent, LIMIT), per_window(replies)
    refused = [r for r in replies if r.status == 429]
    assert refused and all(r.json()["backend"] == "redis" for r in replies)
    assert "rate limit exceeded" in refused[0].json()["error"] and int(refused[0].headers["Retry-After"]) >= 1
    # Another client has its own allowance.
    assert get(f"{url}/limited?client=carol").status == 200

    for _ in range(REQUESTS):
        assert get(f"{url}/visit?page=home").status == 200
    reads = Counter(r.json()["visits"] for r in (get(f"{url}/visits?page=home") for _ in range(4)))
    assert reads == Counter({REQUESTS: 4})


def test_single_process_memory_state_is_exact(serve: Callable, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CORELAB_RATE_LIMIT", str(LIMIT))
    monkeypatch.setenv("CORELAB_RATE_WINDOW_S", "600")
    url = serve("single", "--state", "memory").url
    replies = [get(f"{url}/limited", headers={"X-Client-Id": "dave"}) for _ in range(REQUESTS)]
    for sent, admitted in per_window(replies).values():
        assert admitted == min(sent, LIMIT), per_window(replies)


def test_single_takes_state_and_redis_url_options(serve: Callable, redis_url: str) -> None:
    url = serve("single", "--state", "redis", "--redis-url", redis_url).url
    for _ in range(3):
        assert get(f"{url}/visit?page=flags").json()["backend"] == "redis"
    # The count is in that Redis, not in the server: read it with a client of our own.
    client = redis.Redis.from_url(redis_url)
    assert client.get("corelab:visits:flags") == b"3"
    client.close()


BAD_INPUT = [
    ("/limited", {}, "missing client id"),
    ("/limited?client=", {}, "must be 1 to 64 characters"),
    ("/limited?client=a%20b", {}, "must be 1 to 64 characters"),
    ("/limited?client=" + "x" * 65, {}, "must be 1 to 64 characters"),
    ("/limited?client=%00", {}, "must be 1 to 64 characters"),
    ("/limited?client=a", {"X-Client-Id": "b"}, "name different clients"),
    ("/visit", {}, "missing query parameter 'page'"),
    ("/visits?page=../etc", {}, "must be 1 to 64 characters"),
]


def test_bad_input_gets_a_400_naming_the_problem(state_cluster: Callable[[str], str]) -> None:
    url = state_cluster("redis")
    for path, headers, problem in BAD_INPUT:
        reply = get(url + path, headers=headers)
        assert reply.status == 400, (path, reply.body)
        assert problem in reply.json()["error"], (path, reply.body)


def test_redis_down_gives_503_then_recovers(state_cluster: Callable[[str], str], redis_server: RedisServer) -> None:
    if not redis_server.owned:
        pytest.skip("REDIS_URL is set: the kit cannot stop a Redis it did not start")
    url = state_cluster("redis")
    assert get(f"{url}/visit?page=p").status == 200
    redis_server.stop()
    for path in ("/visit?page=p", "/limited?client=c"):
        reply = get(url + path)
        assert reply.status == 503 and "shared state unavailable" in reply.json()["error"]
    redis_server.start()
    # A fresh Redis (nothing kept on disk): the count starts again, and every worker reconnects.
    assert [get(f"{url}/visit?page=p").json()["visits"] for _ in range(2)] == [1, 2]


def test_bad_configuration_stops_the_server_naming_it(tmp_path) -> None:
    port = free_port()
    env = {"CORELAB_STATE": "postgres"}
    log = tmp_path / "single.log"
    with ManagedProcess(python_module("servers.single", "--port", str(port)), env=env, log_path=log) as proc:
        assert proc.wait(timeout=20) != 0
    assert "state backend 'postgres' is not one of memory, redis" in log.read_text()


def test_state_config_from_env() -> None:
    config = StateConfig.from_env({"CORELAB_STATE": "redis", "REDIS_URL": "redis://h:1/0", "CORELAB_RATE_LIMIT": "3"})
    assert (config.backend, config.redis_url, config.rate_limit) == ("redis", "redis://h:1/0", 3)
    with pytest.raises(ValueError, match="rate window"):
        StateConfig.from_env({"CORELAB_RATE_WINDOW_S": "0"})
    with pytest.raises(ValueError, match="bad shared-state setting"):
        StateConfig.from_env({"CORELAB_RATE_LIMIT": "ten"})
    assert json.dumps(StateConfig().__dict__)  # plain values only
