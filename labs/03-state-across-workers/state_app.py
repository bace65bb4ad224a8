"""Lab 3: a rate limiter and a visit counter that stay right on 3 workers.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m servers.cluster --app state_app:create_app --workers 3 --port 8000

GET /limited?client=ID   at most LIMIT requests per client per WINDOW_S-second window: 200, then 429
GET /visit?page=P        counts one visit to P and answers the total
GET /visits?page=P       answers the total without counting

Right now the counts live in a dict in each worker's memory. On one process that is exact. On
three, each worker counts only the requests it happened to serve: a client gets about three
times its limit, and the counter shows a third of the visits. Nothing fails; it is just wrong.

  TODO 1  keep the rate-limit counts in Redis: INCR the key of (client, window), and give it an
          expiry so old windows vanish (one MULTI/EXEC pipeline, so no key is left without one);
  TODO 2  keep the visit counts in Redis: INCR to count, GET to read.
The Redis to use is in the environment: REDIS_URL (the check starts a real one for you).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

from aiohttp import web

LIMIT = 10  # requests per client per window: the check expects 10 per 1 s
WINDOW_S = 1.0


class Counts:
    """Where the counts live. Now: this worker's memory. TODO: one Redis that every worker shares."""

    def __init__(self) -> None:
        self.hits: dict[tuple[str, int], int] = {}
        self.pages: dict[str, int] = {}

    async def hit(self, client: str, window: int) -> int:
        """Count one request of ``client`` in ``window``; return the count so far (this one included)."""
        self.hits[client, window] = self.hits.get((client, window), 0) + 1
        return self.hits[client, window]

    async def visit(self, page: str) -> int:
        self.pages[page] = self.pages.get(page, 0) + 1
        return self.pages[page]

    async def visits(self, page: str) -> int:
        return self.pages.get(page, 0)

    async def close(self) -> None:
        pass


counts_key = web.AppKey("counts", Counts)


async def limited(request: web.Request) -> web.Response:
    client = request.query.get("client", "anonymous")[:64]
    window = int(time.time() // WINDOW_S)  # every worker reads the same clock: windows agree
    count = await request.app[counts_key].hit(client, window)
    body = {"client": client, "window": window, "count": count, "limit": LIMIT, "pid": os.getpid()}
    return web.json_response(body, status=200 if count <= LIMIT else 429)


async def visit(request: web.Request) -> web.Response:
    page = request.query.get("page", "home")[:64]
    return web.json_response({"page": page, "visits": await request.app[counts_key].visit(page)})


async def visits(request: web.Request) -> web.Response:
    page = request.query.get("page", "home")[:64]
    return web.json_response({"page": page, "visits": await request.app[counts_key].visits(page)})


async def _counts_lifetime(app: web.Application) -> AsyncIterator[None]:
    # Made in each worker after the fork: a connection (to Redis, say) is never shared by processes.
    app[counts_key] = Counts()
    yield
    await app[counts_key].close()


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_counts_lifetime)
    app.add_routes([web.get("/limited", limited), web.get("/visit", visit), web.get("/visits", visits)])
    return app
