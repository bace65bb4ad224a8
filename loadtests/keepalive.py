"""Keep-alive clients: each user opens one connection and sends every request on it (GET /work?ms=5).

What it teaches: a balancing policy places connections, not requests. Once a keep-alive
connection lands on a worker, every request it carries goes to that worker; round-robin makes
the connections even, so with many clients the requests are even too.

Connections per worker are counted from the first response each user gets (and again if a
response ever comes from another worker, which means the client had to reconnect).
"""

from __future__ import annotations

import os

import _worker_counts
from locust import FastHttpUser, constant_throughput, task

from plumbing import env


class KeepAliveUser(FastHttpUser):
    # One connection per user: requests go one after another, so the pool never opens a second.
    concurrency = 1
    # Each user sends CORELAB_RATE requests per second (default 10), below what the server can
    # take: then a worker's requests follow its connections, not how much CPU it got beside Locust.
    wait_time = constant_throughput(float(os.environ.get(env.RATE, "10")))

    def on_start(self) -> None:
        self.worker: str | None = None

    @task
    def work(self) -> None:
        resp = self.client.get("/work?ms=5", name="/work?ms=5 (keep-alive)")
        pid = resp.headers.get("X-Worker-Pid") if resp.headers else None
        if pid and pid != self.worker:
            self.worker = pid
            _worker_counts.note_connection(pid)
