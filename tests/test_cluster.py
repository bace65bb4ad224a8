"""The fork cluster: every policy uses every worker; workers are replaced; nothing outlives the primary."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
import pytest

from plumbing.cores import usable_core_count
from plumbing.procs import PROJECT_ROOT, free_port, python_module, running
from servers.cluster.config import parse_args
from servers.listen import EXIT_ADDRESS_UNAVAILABLE, warn_if_exposed
from tests.http import get
from tests.polling import wait_for


def workers_of(primary_pid: int) -> set[int]:
    return {p.pid for p in psutil.Process(primary_pid).children()}


def pids_serving(url: str, rounds: int = 6, concurrency: int = 6) -> set[int]:
    """Pids seen answering bursts of concurrent CPU requests, each on a new connection.

    Concurrent work keeps one worker busy so that the others get connections, whatever the policy.
    """
    seen: set[int] = set()
    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(rounds):
            seen |= {r.worker_pid for r in pool.map(lambda _: get(url + "/work?ms=20"), range(concurrency * 2))}
    return seen


@pytest.mark.parametrize("policy", ["shared", "reuseport", "rr"])
def test_every_policy_serves_from_every_worker(serve, policy: str) -> None:
    server = serve("cluster", "--workers", "2", "--policy", policy)
    workers = workers_of(server.pid)
    assert len(workers) == 2
    assert pids_serving(server.url) == workers  # all of them, and the primary serves nothing


def test_a_killed_worker_is_replaced_and_the_cluster_keeps_serving(serve) -> None:
    server = serve("cluster", "--workers", "2", "--policy", "rr")
    before = workers_of(server.pid)
    victim = min(before)
    psutil.Process(victim).kill()
    assert get(server.url + "/").status == 200  # the survivor serves meanwhile

    def replaced() -> set[int] | None:
        now = workers_of(server.pid)
        return now if len(now) == 2 and victim not in now else None

    after = wait_for(replaced, 5.0, "a replacement worker")
    wait_for(lambda: pids_serving(server.url, rounds=2) == after, 5.0, "every worker serving", interval=0.2)
    assert f"worker {victim} (slot" in server.log() and "killed by SIGKILL" in server.log()


def test_workers_die_with_the_primary_even_by_sigkill(serve) -> None:
    server = serve("cluster", "--workers", "2")
    workers = [psutil.Process(pid) for pid in workers_of(server.pid)]
    server.process.popen.send_signal(signal.SIGKILL)
    server.process.wait(5)
    time.sleep(2.0)
    alive = [w.pid for w in workers if running(w)]
    assert alive == [], f"workers outlived their primary: {alive}"


@pytest.mark.parametrize("policy", ["shared", "rr"])
def test_sigterm_lets_an_in_flight_request_finish(serve, policy: str) -> None:
    server = serve("cluster", "--workers", "2", "--policy", policy)
    workers = [psutil.Process(pid) for pid in workers_of(server.pid)]
    result: dict = {}
    request = threading.Thread(target=lambda: result.update(reply=get(server.url + "/work?ms=800")))
    request.start()
    time.sleep(0.3)  # the request is now being served
    server.process.popen.send_signal(signal.SIGTERM)
    request.join(10)
    assert result["reply"].status == 200
    assert server.process.wait(10) == 0
    assert not any(running(w) for w in workers)
    assert "stopping gracefully" in server.log()


def test_a_busy_port_is_a_one_line_error(serve) -> None:
    taken = serve("single")
    for module, extra in (("servers.cluster", ["--workers", "2"]), ("servers.single", [])):
        proc = subprocess.run(
            python_module(module, "--port", str(taken.port), *extra),
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert proc.returncode == EXIT_ADDRESS_UNAVAILABLE
        errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
        assert errors == [
            f"error: 127.0.0.1:{taken.port} is already in use: stop what is listening there or pick another --port"
        ]
        assert "Traceback" not in proc.stderr


def test_reuseport_workers_each_bind_their_own_socket(serve) -> None:
    server = serve("cluster", "--workers", "2", "--policy", "reuseport")
    listening = [
        {c.fd for c in psutil.Process(pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN}
        for pid in workers_of(server.pid)
    ]
    assert all(len(fds) == 1 for fds in listening)
    # The primary holds no listening socket: it would take connections and never accept them.
    assert not [c for c in psutil.Process(server.pid).net_connections("tcp") if c.status == psutil.CONN_LISTEN]


def test_defaults_are_loopback_and_one_worker_per_usable_core() -> None:
    config = parse_args([])
    assert config.host == "127.0.0.1"
    assert config.workers == usable_core_count()
    assert config.policy == "rr"  # every worker gets connections even in a burst (notebook 03)


@pytest.mark.parametrize("argv", [["--workers", "0"], ["--policy", "random"], ["--port", "70000"]])
def test_bad_options_are_refused(argv: list[str]) -> None:
    proc = subprocess.run(python_module("servers.cluster", *argv), cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert proc.returncode == 2 and "error:" in proc.stderr


def test_another_address_only_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    warn_if_exposed("127.0.0.1")
    warn_if_exposed("localhost")
    assert capsys.readouterr().err == ""
    warn_if_exposed("0.0.0.0")
    assert "warning: listening on 0.0.0.0, not loopback" in capsys.readouterr().err


def test_free_port_is_free() -> None:
    port = free_port()
    assert 1024 < port < 65536
    assert sys.platform != "win32"
