"""Requests an aiohttp app has answered: counted once, read by the app's /health and the cluster's worker.

The count lives on the app (``count_requests(app)``), so whichever runner serves it, a single
process or a cluster worker recycling itself after --max-requests, reads the same number.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web


@dataclass
class RequestCount:
    served: int = 0
    # time.monotonic() of the last response: a draining worker waits for a quiet moment by it.
    last_response: float = 0.0

    async def on_response_prepare(self, _request: web.Request, _response: web.StreamResponse) -> None:
        # Every answer counts, errors included; it runs before any hook added after count_requests().
        self.served += 1
        self.last_response = time.monotonic()


request_count_key = web.AppKey("request_count", RequestCount)


def count_requests(app: web.Application) -> RequestCount:
    """The app's count of answered requests, set up on the first call (later calls return the same one)."""
    count = app.get(request_count_key)
    if count is None:
        count = RequestCount()
        app[request_count_key] = count
        app.on_response_prepare.append(count.on_response_prepare)
    return count
