"""GET /work?offload=none|thread|process: the event loop blocked, and kept free, with real requests.

No Locust here: one long CPU request and a /health probe sent while it runs say it directly.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import psutil
import pytest

from tests.http import Reply, get

BURN_MS = 600


def probe_during_burn(url: str, offload: str) -> float:
    """Seconds a /health probe took while a BURN_MS request with ``offload`` was being served."""
    replies: list[Reply] = []
    burn = threading.Thread(target=lambda: replies.append(get(f"{url}/work?ms={BURN_MS}&offload={offload}")))
    burn.start()
    time.sleep(0.1)  # the burn has started
    started = time.perf_counter()
    probe = get(f"{url}/health")
    took = time.perf_counter() - started
    burn.join()
    assert probe.status == 200 and replies[0].status == 200, replies
    return took


def test_offload_none_blocks_the_loop_and_process_keeps_it_free(serve: Callable) -> None:
    server = serve("single")
    assert get(f"{server.url}/work?ms=10&offload=process").status == 200  # the pool exists before timing
    blocked = probe_during_burn(server.url, "none")
    free = probe_during_burn(server.url, "process")
    # The probe waits out the rest of the burn (~500 ms) on the loop; beside a process pool it is at once.
    assert blocked >= 0.3, blocked
    assert free < 0.15, free
    assert free * 3 < blocked


@pytest.mark.parametrize("offload", ["thread", "process"])
def test_offloaded_work_answers_with_its_mode(serve: Callable, offload: str) -> None:
    server = serve("single")
    reply = get(f"{server.url}/work?ms=30&offload={offload}")
    assert reply.status == 200
    body = reply.json()
    assert body["offload"] == offload and body["ms"] == 30
    assert body["elapsed_ms"] >= 29  # at least the CPU asked for, wherever it ran
    assert reply.worker_pid == server.pid


def test_the_process_pool_is_made_once_and_reused(serve: Callable) -> None:
    server = serve("single")
    # Python starts a pool's workers as they are first needed: concurrent requests start them all.
    warm = [threading.Thread(target=get, args=(f"{server.url}/work?ms=50&offload=process",)) for _ in range(4)]
    for t in warm:
        t.start()
    for t in warm:
        t.join()
    first = {p.pid for p in psutil.Process(server.pid).children()}
    for _ in range(6):
        assert get(f"{server.url}/work?ms=5&offload=process").status == 200
    assert {p.pid for p in psutil.Process(server.pid).children()} == first
    assert 1 <= len(first) <= (os.cpu_count() or 1) + 1  # the pool's workers (and multiprocessing's tracker)


@pytest.mark.parametrize("bad", ["gpu", "", "PROCESS", "process;x", "thread,process", "none%00"])
def test_bad_offload_is_a_400_naming_it(serve: Callable, bad: str) -> None:
    server = serve("single")
    reply = get(f"{server.url}/work?ms=5&offload={bad}")
    assert reply.status == 400
    assert reply.headers["Content-Type"].startswith("application/json")
    error = reply.json()["error"]
    assert "'offload" in error and "none, thread, process" in error
    assert get(f"{server.url}/health").status == 200  # and the server is still there


def test_a_cluster_workers_pool_dies_with_it(serve: Callable) -> None:
    server = serve("cluster", "--workers", "2", "--policy", "rr")
    reply = get(f"{server.url}/work?ms=5&offload=process")
    assert reply.status == 200
    worker = psutil.Process(reply.worker_pid)
    pool = worker.children()
    assert pool, "the worker made no process pool"
    os.kill(worker.pid, signal.SIGKILL)  # no clean-up code runs: only the kernel can stop the pool now
    _gone, alive = psutil.wait_procs(pool, timeout=5)
    assert not alive, f"pool processes outlived their worker: {[p.pid for p in alive]}"


def test_a_dead_pool_worker_costs_one_503_not_a_500_forever(serve: Callable) -> None:
    server = serve("single")
    assert get(f"{server.url}/work?ms=5&offload=process").status == 200
    workers = [p for p in psutil.Process(server.pid).children() if "resource_tracker" not in " ".join(p.cmdline())]
    assert workers, "no pool worker to kill"
    for worker in workers:
        worker.kill()  # as the kernel's OOM killer would
    psutil.wait_procs(workers, timeout=5)
    broken = get(f"{server.url}/work?ms=5&offload=process")
    assert broken.status == 503, broken.body
    assert "pool lost a worker" in broken.json()["error"] and broken.headers["Retry-After"] == "1"
    replies = [get(f"{server.url}/work?ms=5&offload=process").status for _ in range(3)]
    assert replies == [200, 200, 200]  # a fresh pool
