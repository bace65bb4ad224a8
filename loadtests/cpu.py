"""CPU-bound: every request burns 10 ms of pure-Python CPU on the server (GET /work?ms=10).

What it teaches: one Python process serves at most about 1000/10 = 100 such requests per
second, whatever the number of users, because it has one core's worth of GIL; a cluster of
N workers serves about N times that, up to the number of cores.
"""

from __future__ import annotations

import _worker_counts  # noqa: F401 - counts X-Worker-Pid for corelab
from locust import FastHttpUser, task


class CpuUser(FastHttpUser):
    # No wait: each user sends its next request as soon as the last is answered (a closed
    # loop), so the server, not the users' think time, sets the pace.
    @task
    def work(self) -> None:
        self.client.get("/work?ms=10", name="/work?ms=10")
