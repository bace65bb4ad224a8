"""Lab 3, a solution: the counts live in Redis, so three workers count as one.

    REDIS_URL=redis://127.0.0.1:6379/0 python -m servers.cluster --app state_app:create_app --workers 3 --port 8000

GET /limited?client=ID   at most LIMIT requests per client per WINDOW_S-second window: 200, then 429
GET /visit?page=P        counts one visit to P and answers the total
GET /visits?page=P       answers the total without counting

The Redis to use is in the environment: REDIS_URL (the check starts a real one for you).
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator

import redis.asyncio
from aiohttp import web

LIMIT = 10  # requests per client per window: the check expects 10 per 1 s
WINDOW_S = 1.0


class Counts:
    """Where the counts live: one Redis that every worker shares, so every worker sees every count."""

    def __init__(self) -> None:
        self.redis = redis.asyncio.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))

    async def hit(self, client: str, window: int) -> int:
        """Count one request of ``client`` in ``window``; return the count so far (this one included)."""
        key = f"lab3:rate:{client}:{window}"
        # INCR is atomic in Redis: two workers counting at once get n and n+1, never n twice.
        # MULTI/EXEC sends the expiry with it, so no key outlives its window by much.
        async with self.redis.pipeline(transaction=True) as pipe:
            count, _ = await pipe.incr(key).expire(key, int(WINDOW_S) + 1).execute()
        return int(count)

    async def visit(self, page: str) -> int:
        return int(await self.redis.incr(f"lab3:visits:{page}"))

    async def visits(self, page: str) -> int:
        return int(await self.redis.get(f"lab3:visits:{page}") or 0)

    async def close(self) -> None:
        await self.redis.aclose()


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
    # Made in each worker after the fork: a Redis connection is never shared by processes.
    app[counts_key] = Counts()
    yield
    await app[counts_key].close()


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_counts_lifetime)
    app.add_routes([web.get("/limited", limited), web.get("/visit", visit), web.get("/visits", visits)])
    return app
