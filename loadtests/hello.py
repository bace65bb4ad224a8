"""Hello: the cheapest request there is (GET /), a text answer with no work behind it.

What it teaches: with next to no work per request, the cost is HTTP itself: parsing, the
event loop, the load generator. On a small machine the load generator often runs out of CPU
first, and corelab marks such a run generator-bound rather than call it the server's limit.
"""

from __future__ import annotations

import _worker_counts  # noqa: F401 - counts X-Worker-Pid for corelab
from locust import FastHttpUser, task


class HelloUser(FastHttpUser):
    @task
    def hello(self) -> None:
        self.client.get("/", name="/")
