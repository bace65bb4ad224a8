"""Fixtures shared by the tests: real servers on free loopback ports, and a leak check.

Every process a test starts inherits CORELAB_TEST_OWNER=<the test's id>. After the test and
all its fixtures are torn down, any live process still carrying that id is a leak and fails
the test: "no test leaves a process behind" is checked, not hoped for.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from plumbing import env
from plumbing.procs import ManagedProcess, free_port, python_module, wait_until_serving
from plumbing.redis_server import RedisServer, RedisUnavailable

OWNER_VAR = env.TEST_OWNER
os.environ[OWNER_VAR] = "session"


def processes_owned_by(owner: str) -> list[psutil.Process]:
    me = os.getpid()
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(OWNER_VAR) == owner and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def leftovers(owner: str, grace: float = 3.0) -> list[psutil.Process]:
    """Processes of ``owner`` still alive after ``grace`` seconds (stopping ones get the time)."""
    deadline = time.monotonic() + grace
    while True:
        alive = processes_owned_by(owner)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.1)


@pytest.fixture(autouse=True)
def no_leftover_processes(request: pytest.FixtureRequest) -> Iterator[None]:
    # Autouse and function-scoped: set up before, and torn down after, the test's other fixtures.
    owner = request.node.nodeid
    os.environ[OWNER_VAR] = owner
    yield
    os.environ[OWNER_VAR] = "session"
    alive = leftovers(owner)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            pass
    if alive:
        described = ", ".join(f"{p.pid} ({' '.join(p.cmdline()[:4])})" for p in alive if p.is_running())
        pytest.fail(f"test left processes behind: {described}", pytrace=False)


@dataclass
class Server:
    url: str
    port: int
    process: ManagedProcess

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.process.log_text()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start ``python -m servers.<module> args...`` on a free port; stopped after the test."""
    started: list[ManagedProcess] = []

    def start(module: str, *args: str, ready_line: str | None = None, timeout: float = 20.0) -> Server:
        port = free_port()
        log = tmp_path / f"{module.replace('.', '_')}-{port}.log"
        process = ManagedProcess(python_module(f"servers.{module}", "--port", str(port), *args), log_path=log)
        started.append(process)
        if ready_line is None and module == "cluster":
            ready_line = "cluster ready"
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(f"{url}/health", process, timeout=timeout, ready_line=ready_line)
        return Server(url, port, process)

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real Redis for one test: REDIS_URL when set, else a redis-server started here and stopped after.

    ``redis_server.stop()`` / ``.start()`` take it away and bring it back on the same port.
    """
    try:
        server = RedisServer().start()
    except RedisUnavailable as exc:
        pytest.skip(f"no Redis to test against: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of the test's real Redis (see ``redis_server``)."""
    return redis_server.url
