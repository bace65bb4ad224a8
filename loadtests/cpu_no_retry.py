"""CPU-bound, strict: GET /work?ms=10 like cpu.py, through a client that never retries.

Locust's FastHttpUser (geventhttpclient) quietly resends an idempotent request whose
keep-alive connection was closed or reset under it, as browsers do. That hides exactly what a
restart or a crash costs. This scenario uses HttpUser (requests), which reports such a request
as failed: a restart that shows 0 failures here lost nothing.
"""

from __future__ import annotations

import _worker_counts  # noqa: F401 - counts X-Worker-Pid for corelab
from locust import HttpUser, task


class StrictCpuUser(HttpUser):
    @task
    def work(self) -> None:
        self.client.get("/work?ms=10", name="/work?ms=10 (no retry)")
