"""I/O-bound: every request waits 50 ms without using the CPU (GET /io?ms=50).

What it teaches: async is concurrency, not parallelism. One event loop keeps hundreds of
such requests in flight at once with little CPU, so a cluster adds nothing here: the
requests were waiting, not computing.
"""

from __future__ import annotations

import _worker_counts  # noqa: F401 - counts X-Worker-Pid for corelab
from locust import FastHttpUser, task


class IoUser(FastHttpUser):
    @task
    def io(self) -> None:
        self.client.get("/io?ms=50", name="/io?ms=50")
