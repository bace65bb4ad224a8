"""Short connections: every request opens a new connection and closes it (GET /work?ms=5, Connection: close).

What it teaches: each request is a fresh connection for the balancing policy to place, as
with clients that do not keep connections alive. With the shared policy the kernel wakes
whichever worker it likes; round-robin hands them out in turn.
"""

from __future__ import annotations

import os

import _worker_counts
from locust import FastHttpUser, constant_throughput, task

from plumbing import env


class ShortConnectionUser(FastHttpUser):
    concurrency = 1
    # Each user sends CORELAB_RATE requests per second (default 10), below what the server can
    # take: then a worker's requests follow its connections, not how much CPU it got beside Locust.
    wait_time = constant_throughput(float(os.environ.get(env.RATE, "10")))

    @task
    def work(self) -> None:
        # The server answers "Connection: close" and closes; the client connects anew next time.
        resp = self.client.get("/work?ms=5", name="/work?ms=5 (new connection)", headers={"Connection": "close"})
        _worker_counts.note_connection(resp.headers.get("X-Worker-Pid") if resp.headers else None)
