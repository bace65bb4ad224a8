"""A burst of keep-alive clients: every user connects at the same moment, then loads its worker (GET /work?ms=10).

What it teaches: a balancing policy places a keep-alive connection once, when it is accepted.
Run it with every user starting at once (``-u 20 -r 20``): with a shared socket the first
worker the kernel wakes may accept the whole queue of new connections, and every request of
the run then goes to that one worker while another core idles. Round-robin (the cluster's
``rr``) hands the connections out in turn whatever their timing.

Each user keeps one connection and sends its next request as soon as the last is answered (a
closed loop, no wait), so throughput shows an idle core. Connections per worker are counted
from the first response each user gets (and again if it ever reconnects to another worker).
"""

from __future__ import annotations

import _worker_counts
from locust import FastHttpUser, task


class BurstUser(FastHttpUser):
    # One connection per user: requests go one after another, so the pool never opens a second.
    concurrency = 1

    def on_start(self) -> None:
        self.worker: str | None = None

    @task
    def work(self) -> None:
        resp = self.client.get("/work?ms=10", name="/work?ms=10 (burst)")
        pid = resp.headers.get("X-Worker-Pid") if resp.headers else None
        if pid and pid != self.worker:
            self.worker = pid
            _worker_counts.note_connection(pid)
