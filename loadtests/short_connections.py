"""Short connections: every request opens a new connection and closes it (GET /work?ms=5, Connection: close).

What it teaches: each request is a fresh connection for the balancing policy to place, as
with clients that do not keep connections alive. With the shared policy the kernel wakes
whichever worker it likes; round-robin hands them out in turn.
"""

from __future__ import annotations

import _worker_counts
from locust import FastHttpUser, task


class ShortConnectionUser(FastHttpUser):
    concurrency = 1

    @task
    def work(self) -> None:
        # The server answers "Connection: close" and closes; the client connects anew next time.
        resp = self.client.get("/work?ms=5", name="/work?ms=5 (new connection)", headers={"Connection": "close"})
        _worker_counts.note_connection(resp.headers.get("X-Worker-Pid") if resp.headers else None)
