"""plumbing.redis_server: a real redis-server, found, started, stopped and restarted on its port."""

from __future__ import annotations

import io

import psutil
import pytest
import redis

from plumbing.procs import free_port
from plumbing.redis_server import SOURCES, RedisConfig, RedisServer, RedisUnavailable, ping
from plumbing.redis_server import redis_server as redis_context


def test_fixture_gives_a_real_redis(redis_server: RedisServer, redis_url: str) -> None:
    assert redis_server.source in SOURCES
    client = redis.Redis.from_url(redis_url)
    assert client.incr("corelab:test:incr") >= 1
    # A real server says what it is; a fake would not have a run_id and a process behind it.
    info = client.info("server")
    assert info["redis_version"]
    if redis_server.owned:
        assert info["process_id"] == redis_server.pid
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    client.close()


def test_started_server_is_stopped_and_restarted_on_the_same_port(redis_server: RedisServer) -> None:
    if not redis_server.owned:
        pytest.skip("REDIS_URL is set: the kit cannot stop a Redis it did not start")
    url, first_pid = redis_server.url, redis_server.pid
    client = redis.Redis.from_url(url, socket_timeout=1.0)
    client.set("corelab:test:key", "before")

    redis_server.stop()
    assert not ping(url)
    assert not psutil.pid_exists(first_pid) or psutil.Process(first_pid).status() == psutil.STATUS_ZOMBIE
    with pytest.raises(redis.ConnectionError):
        client.get("corelab:test:key")

    redis_server.start()
    assert redis_server.url == url
    assert redis_server.pid != first_pid
    # The same client object reconnects by itself; nothing was kept on disk, so the key is gone.
    assert client.get("corelab:test:key") is None
    client.close()


def test_context_manager_says_which_redis_and_stops_it() -> None:
    out = io.StringIO()
    with redis_context(progress=out) as server:
        assert ping(server.url)
        pid = server.pid
    said = out.getvalue()
    assert said.startswith("Redis: redis ") and server.url in said
    if server.owned:
        assert not ping(server.url)
        assert pid is not None and not psutil.pid_exists(pid)


def test_redis_url_wins_and_is_never_stopped(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", redis_server.url)
    external = RedisServer()
    assert external.source == "REDIS_URL" and not external.owned
    with external:
        assert external.url == redis_server.url
        with pytest.raises(RuntimeError, match="did not start"):
            external.stop()
    # Leaving the block did not stop someone else's Redis.
    assert ping(redis_server.url)


def test_unreachable_redis_url_fails_clearly() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(RedisUnavailable, match="does not answer PING"):
        RedisServer(RedisConfig(url=f"redis://127.0.0.1:{port}/0", start_timeout=0.5)).start()
