"""The cluster's lifecycle with real processes: health, hung workers, crashes and backoff, boot
failures, rolling and naive restarts under load, recycling, and scaling at runtime.

The load here is a few threads of http.client keep-alive connections (no retries: a request
that meets a closed socket is counted as lost), small enough for a 2-core machine.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from plumbing.procs import ManagedProcess, free_port, python_module
from servers.cluster.backoff import Backoff
from servers.cluster.worker import EXIT_BOOT_FAILED
from tests.http import get
from tests.polling import wait_for


def get_json(url: str, timeout: float = 2.0) -> tuple[int, dict]:
    reply = get(url, timeout=timeout)
    return reply.status, reply.json()


class Admin:
    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}/cluster-health"

    def health(self) -> dict:
        status, body = get_json(self.url)
        assert status == 200
        return body

    def pids(self, state: str = "serving") -> set[int]:
        return {w["pid"] for w in self.health()["workers"] if w["state"] == state}


def start_cluster(serve: Callable, *args: str, workers: int = 2) -> tuple[object, Admin]:
    admin_port = free_port()
    server = serve("cluster", "--workers", str(workers), "--admin-port", str(admin_port), *args)
    return server, Admin(admin_port)


class KeepAliveLoad:
    """``users`` threads, each one keep-alive connection sending GET /work?ms=5 back to back."""

    def __init__(self, port: int, users: int = 4, path: str = "/work?ms=5") -> None:
        self.port, self.path = port, path
        self.served: Counter[str] = Counter()
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._user, daemon=True) for _ in range(users)]

    def __enter__(self) -> KeepAliveLoad:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=15)

    @property
    def total(self) -> int:
        return sum(self.served.values())

    def _user(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self._stop.is_set():
            try:
                conn.request("GET", self.path)
                resp = conn.getresponse()
                resp.read()
                with self._lock:
                    if resp.status == 200:
                        self.served[resp.getheader("X-Worker-Pid")] += 1
                    else:
                        self.errors.append(f"HTTP {resp.status}")
            except (OSError, http.client.HTTPException) as exc:
                with self._lock:
                    self.errors.append(repr(exc))
                conn.close()
        conn.close()


# -- health and heartbeats ---------------------------------------------------------------------


def test_cluster_health_reports_every_worker_on_the_admin_port_only(serve: Callable) -> None:
    server, admin = start_cluster(serve, "--timeout", "2")
    for _ in range(6):
        urllib.request.urlopen(f"{server.url}/", timeout=2).read()
    body = wait_for(
        lambda: (h := admin.health()) and sum(w["requests_served"] for w in h["workers"]) >= 6 and h,
        timeout=3,
        what="heartbeats to report the requests",
    )
    assert body["primary_pid"] == server.pid
    assert len(body["workers"]) == 2
    for worker in body["workers"]:
        assert worker["state"] == "serving"
        assert worker["rss_bytes"] > 10 * 2**20
        assert worker["uptime_s"] > 0
        assert worker["heartbeat_age_s"] < 2
        assert abs(worker["last_heartbeat"] - time.time()) < 5
    # Not on the public port, and the admin port says what it does not do, in JSON.
    assert get_json(f"{server.url}/cluster-health")[0] == 404
    port = admin.url.split(":")[2].split("/")[0]
    assert get_json(f"http://127.0.0.1:{port}/nope") == (404, {"error": "not found: try GET /cluster-health"})
    request = urllib.request.Request(admin.url, method="POST")
    try:
        urllib.request.urlopen(request, timeout=2)
    except urllib.error.HTTPError as exc:
        assert exc.code == 405
    else:
        pytest.fail("POST /cluster-health was accepted")


def test_a_worker_whose_heartbeat_stops_is_killed_and_replaced(serve: Callable) -> None:
    server, admin = start_cluster(serve, "--timeout", "1")
    victim = sorted(admin.pids())[0]
    os.kill(victim, signal.SIGSTOP)  # a loop that never comes back, as a blocked one
    wait_for(lambda: victim not in admin.pids() and len(admin.pids()) == 2, timeout=6, what="a replacement")
    assert re.search(rf"worker {victim} sent no heartbeat for [\d.]+ s \(timeout 1 s\): killing it", server.log())


# -- crashes, backoff, boot failures -----------------------------------------------------------


def test_backoff_grows_by_half_caps_at_15_s_and_resets_after_30_s_up() -> None:
    backoff = Backoff()
    delays = [backoff.after_crash(uptime_s=1) for _ in range(3)]
    assert delays == pytest.approx([0.1, 0.15, 0.225])
    for _ in range(30):
        backoff.after_crash(uptime_s=1)
    assert backoff.after_crash(uptime_s=1) == 15.0
    assert backoff.after_crash(uptime_s=31) == pytest.approx(0.1)


def test_crashed_workers_are_respawned_with_growing_delays(serve: Callable) -> None:
    server, admin = start_cluster(serve, "--workers", "1", workers=1)
    gaps = []
    for _ in range(3):
        (victim,) = admin.pids()
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda v=victim: (p := admin.pids()) and v not in p, timeout=5, what="a respawned worker")
        gaps.append(time.monotonic() - killed)
    log = server.log()
    assert [int(ms) for ms in re.findall(r"starting a new one in (\d+) ms", log)] == [100, 150, 225]
    assert gaps[2] >= 0.225  # the delay is real, not only logged
    assert len(admin.pids()) == 1


def test_a_crash_under_load_costs_only_the_dead_workers_requests(serve: Callable) -> None:
    server, admin = start_cluster(serve)
    with KeepAliveLoad(server.port, users=4) as load:
        time.sleep(1.0)
        victim = sorted(admin.pids())[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in admin.pids() and len(admin.pids()) == 2, timeout=5, what="a replacement")
        served_at_kill = load.total
        time.sleep(1.0)
    # Each user had at most one request on the dead worker's connection when it died; every
    # request after that went to a live worker.
    assert len(load.errors) <= 4, load.errors
    assert load.total > served_at_kill + 50
    assert f"worker {victim} (slot 0) was killed by SIGKILL" in server.log()


def test_a_worker_that_cannot_boot_stops_the_cluster_with_a_named_exit_code(tmp_path: Path) -> None:
    argv = python_module(
        "servers.cluster", "--workers", "2", "--port", str(free_port()), "--app", "servers.no_such_module:create_app"
    )
    with ManagedProcess(argv, log_path=tmp_path / "cluster.log") as cluster:
        code = cluster.wait(timeout=15)
    log = cluster.log_text()
    assert code == EXIT_BOOT_FAILED == 70
    assert "cannot start: ModuleNotFoundError" in log
    assert "could not boot; stopping the cluster instead of respawning" in log
    assert len(re.findall(r"cannot start", log)) <= 2  # no respawn loop


# -- restarts under load -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "sig"), [("shared", signal.SIGHUP), ("rr", signal.SIGUSR2)], ids=["shared-SIGHUP", "rr-SIGUSR2"]
)
def test_rolling_restart_under_load_loses_no_request(serve: Callable, policy: str, sig: int) -> None:
    server, admin = start_cluster(serve, "--policy", policy)
    old = admin.pids()
    with KeepAliveLoad(server.port) as load:
        time.sleep(1.0)
        os.kill(server.pid, sig)
        wait_for(lambda: not (admin.pids() & old) and len(admin.pids()) == 2, timeout=15, what="all workers replaced")
        time.sleep(1.0)
    assert load.errors == []
    new = admin.pids()
    served = set(load.served)
    # Traffic moved from the old workers to their successors without a failed request. Which
    # workers carry the keep-alive connections is the policy's choice: rr spreads them over every
    # worker, old and new; shared lets the kernel pick, and may put them all on one worker.
    assert served & {str(p) for p in old} and served & {str(p) for p in new}, "old, then new workers served"
    if policy == "rr":
        assert {str(p) for p in old | new} <= served, "rr: every old and every new worker served"
    assert load.total > 100
    # One at a time: each old worker drained only after its successor was serving.
    log = server.log()
    for pid in old:
        assert re.search(rf"worker {pid} \(slot \d\) draining: worker \d+ serves in its place", log)


def test_naive_restart_stops_all_then_starts_all_and_loses_requests(serve: Callable) -> None:
    server, admin = start_cluster(serve, "--restart", "naive")
    old = admin.pids()
    with KeepAliveLoad(server.port) as load:
        time.sleep(1.0)
        os.kill(server.pid, signal.SIGHUP)
        wait_for(lambda: not (admin.pids() & old) and len(admin.pids()) == 2, timeout=15, what="all workers replaced")
        time.sleep(0.5)
    assert "naive restart: stopping every worker and closing the port" in server.log()
    assert load.errors, "a stop-all restart under load should lose requests"


# -- recycling and scaling ---------------------------------------------------------------------


def test_max_requests_replaces_workers_without_dropping_a_request(serve: Callable) -> None:
    server, _admin = start_cluster(serve, "--max-requests", "60", "--max-requests-jitter", "20")
    with KeepAliveLoad(server.port) as load:
        wait_for(lambda: len(load.served) >= 5, timeout=20, what="workers to be recycled")
    assert load.errors == []
    assert re.search(r"replacing worker \d+ \(slot \d\): served \d+ requests", server.log())
    # Nobody served much more than the limit plus jitter (plus what was in flight while its successor booted).
    assert max(load.served.values()) < 80 + 60


def test_max_memory_replaces_workers_without_dropping_a_request(serve: Callable) -> None:
    # Every Python worker is above 1 MB: each is replaced, one at a time, as soon as it reports.
    server, _admin = start_cluster(serve, "--max-memory", "1", "--timeout", "2")
    with KeepAliveLoad(server.port) as load:
        wait_for(lambda: len(load.served) >= 4, timeout=20, what="workers to be recycled")
    assert load.errors == []
    assert re.search(r"replacing worker \d+ \(slot \d\): rss \d+ MB is over --max-memory 1 MB", server.log())


def test_ttin_and_ttou_add_and_remove_workers_but_never_the_last(serve: Callable) -> None:
    server, admin = start_cluster(serve)
    os.kill(server.pid, signal.SIGTTIN)
    wait_for(lambda: len(admin.pids()) == 3, timeout=10, what="a third worker")
    for _ in range(3):
        os.kill(server.pid, signal.SIGTTOU)
        time.sleep(0.3)
    wait_for(lambda: len(admin.health()["workers"]) == 1, timeout=10, what="one worker left")
    assert admin.health()["target_workers"] == 1
    assert "not removing the last worker" in server.log()
    assert urllib.request.urlopen(f"{server.url}/", timeout=2).status == 200


def test_admin_port_must_differ_from_the_public_port(tmp_path: Path) -> None:
    port = str(free_port())
    argv = python_module("servers.cluster", "--port", port, "--admin-port", port)
    with ManagedProcess(argv, log_path=tmp_path / "cluster.log") as cluster:
        assert cluster.wait(timeout=10) == 2
    assert "--admin-port must differ from --port" in cluster.log_text()


def test_a_busy_admin_port_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        argv = python_module("servers.cluster", "--port", str(free_port()), "--admin-port", str(busy.getsockname()[1]))
        with ManagedProcess(argv, log_path=tmp_path / "cluster.log") as cluster:
            assert cluster.wait(timeout=10) == 3
    assert "error: admin port: 127.0.0.1:" in cluster.log_text()
    assert "pick another --admin-port" in cluster.log_text()
