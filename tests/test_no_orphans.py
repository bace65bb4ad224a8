"""A variant killed by SIGKILL takes everything it started with it: workers and its own Redis."""

from __future__ import annotations

import signal
import time

import psutil

from plumbing.procs import running


def test_a_sigkilled_pubsub_primary_leaves_no_worker_and_no_redis(serve) -> None:
    server = serve("pubsub", "--workers", "2")
    children = psutil.Process(server.pid).children(recursive=True)
    names = " ".join(" ".join(c.cmdline()) for c in children)
    assert "redis-server" in names and len(children) >= 3  # its Redis and two workers
    server.process.popen.send_signal(signal.SIGKILL)
    server.process.wait(5)
    time.sleep(2.0)
    alive = [c.pid for c in children if running(c)]
    assert alive == [], f"outlived their primary: {alive}"
