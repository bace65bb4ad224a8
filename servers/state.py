"""State that must be shared by every worker: a per-client rate limit and a visit counter.

GET /limited?client=ID   (or the header X-Client-Id: ID)
    At most ``rate_limit`` requests per client per window of ``rate_window_s`` seconds;
    200 while under the limit, 429 (with Retry-After) once over it.
GET /visit?page=NAME     counts one visit to NAME and answers the total so far.
GET /visits?page=NAME    answers the total without counting a visit.

Each comes in two backends, chosen by configuration that every worker reads:

- ``memory``: a dict in the worker's own memory. Correct in one process; in a cluster each worker
  counts only the requests it happened to serve, so a client gets about workers x the limit and
  the counter shows one worker's share. Nothing fails; the numbers are just wrong.
- ``redis``: INCR + EXPIRE on one Redis (as in the articles), so every worker sees the same counts.

The configuration comes from the environment, so ``create_app()`` with no arguments (gunicorn's
way) and every forked worker get the same: CORELAB_STATE=memory|redis, CORELAB_REDIS_URL
(else REDIS_URL), CORELAB_RATE_LIMIT, CORELAB_RATE_WINDOW_S. The servers' ``--state`` and
``--redis-url`` options (servers/settings.py) set those variables before any worker starts.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

import redis
import redis.asyncio
from aiohttp import web

from plumbing import env
from servers.params import bad_request
from servers.settings import STATE_BACKENDS

T = TypeVar("T")

BACKENDS = STATE_BACKENDS
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Client ids and page names become dict and Redis keys: short, plain and bounded.
NAME_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# One process keeps at most this many clients per window and this many pages, so no stream of
# made-up names can grow its memory without bound.
MEMORY_MAX_CLIENTS = 100_000
MEMORY_MAX_PAGES = 10_000
# A worker waits at most this long for Redis before it answers 503.
REDIS_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class StateConfig:
    backend: str = "memory"
    redis_url: str = DEFAULT_REDIS_URL
    rate_limit: int = 10
    rate_window_s: float = 1.0
    # Every Redis key starts with this, so the kit's keys never mix with anyone else's.
    key_prefix: str = "corelab:"

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ValueError(f"state backend {self.backend!r} is not one of {', '.join(BACKENDS)}")
        if not 1 <= self.rate_limit <= 1_000_000:
            raise ValueError(f"rate limit {self.rate_limit} must be between 1 and 1000000 requests")
        if not (math.isfinite(self.rate_window_s) and 0.01 <= self.rate_window_s <= 3600):
            raise ValueError(f"rate window {self.rate_window_s} s must be between 0.01 and 3600 seconds")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> StateConfig:
        """The configuration every worker reads; a bad value stops the server at start, naming it."""
        try:
            return cls(
                backend=environ.get(env.STATE, cls.backend),
                redis_url=environ.get(env.REDIS_URL) or environ.get(env.GENERIC_REDIS_URL) or cls.redis_url,
                rate_limit=int(environ.get(env.RATE_LIMIT, cls.rate_limit)),
                rate_window_s=float(environ.get(env.RATE_WINDOW_S, cls.rate_window_s)),
            )
        except ValueError as exc:
            raise ValueError(f"bad shared-state setting in the environment: {exc}") from None

    @property
    def redis_key_ttl_ms(self) -> int:
        # A window's key outlives its window a little, then Redis drops it by itself.
        return math.ceil(self.rate_window_s * 1000) + 1000


class StateUnavailable(Exception):
    """The store cannot answer (Redis down or too slow, or a memory store full)."""


class StateStore(Protocol):
    backend: str

    async def hit(self, client: str, window: int) -> int:
        """Count one request by ``client`` in ``window``; the count so far, this one included."""
        ...

    async def visit(self, page: str) -> int: ...

    async def visits(self, page: str) -> int: ...

    async def close(self) -> None: ...


class MemoryStore:
    """This process's own dicts: exact in one process, one worker's share of the truth in a cluster."""

    backend = "memory"

    def __init__(self, config: StateConfig) -> None:
        self._window: int | None = None
        self._hits: dict[str, int] = {}
        self._pages: dict[str, int] = {}

    async def hit(self, client: str, window: int) -> int:
        if self._window is None or window > self._window:
            # A new window: the counts of the old one will never be asked for again.
            self._hits.clear()
            self._window = window
        if client not in self._hits and len(self._hits) >= MEMORY_MAX_CLIENTS:
            raise StateUnavailable(f"too many clients in this window (at most {MEMORY_MAX_CLIENTS})")
        self._hits[client] = count = self._hits.get(client, 0) + 1
        return count

    async def visit(self, page: str) -> int:
        if page not in self._pages and len(self._pages) >= MEMORY_MAX_PAGES:
            raise StateUnavailable(f"too many pages (at most {MEMORY_MAX_PAGES})")
        self._pages[page] = count = self._pages.get(page, 0) + 1
        return count

    async def visits(self, page: str) -> int:
        return self._pages.get(page, 0)

    async def close(self) -> None:
        pass


class RedisStore:
    """One Redis that every worker talks to: the counts are the same whichever worker asks."""

    backend = "redis"

    def __init__(self, config: StateConfig) -> None:
        self._config = config
        self._redis = redis.asyncio.Redis.from_url(
            config.redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )

    async def hit(self, client: str, window: int) -> int:
        key = f"{self._config.key_prefix}rate:{client}:{window}"
        # MULTI/EXEC: the INCR and its EXPIRE happen together, so no key is left without a TTL.
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.pexpire(key, self._config.redis_key_ttl_ms)
            count, _ = await self._run(pipe.execute())
        return int(count)

    async def visit(self, page: str) -> int:
        return int(await self._run(self._redis.incr(f"{self._config.key_prefix}visits:{page}")))

    async def visits(self, page: str) -> int:
        return int(await self._run(self._redis.get(f"{self._config.key_prefix}visits:{page}")) or 0)

    async def close(self) -> None:
        await self._redis.aclose()

    async def _run(self, command: Awaitable[T]) -> T:
        try:
            return await command
        except (redis.RedisError, OSError) as exc:
            raise StateUnavailable(f"redis at {self._config.redis_url}: {exc}") from None


def make_store(config: StateConfig) -> StateStore:
    return RedisStore(config) if config.backend == "redis" else MemoryStore(config)


state_config_key = web.AppKey("state_config", StateConfig)
state_store_key = web.AppKey("state_store", object)


def _name(what: str, value: str | None) -> str:
    if value is None:
        raise bad_request(f"missing {what}")
    if not NAME_PATTERN.fullmatch(value):
        raise bad_request(f"{what} {value[:40]!r} must be 1 to 64 characters from A-Z a-z 0-9 . _ : -")
    return value


def client_id(request: web.Request) -> str:
    """The client, from the X-Client-Id header or the ``client`` query parameter (they must agree)."""
    header, query = request.headers.get("X-Client-Id"), request.query.get("client")
    if header is not None and query is not None and header != query:
        raise bad_request("the X-Client-Id header and the 'client' query parameter name different clients")
    return _name("client id (header X-Client-Id or query parameter 'client')", query if header is None else header)


def page_name(request: web.Request) -> str:
    return _name("query parameter 'page'", request.query.get("page"))


def _unavailable(exc: StateUnavailable) -> web.HTTPServiceUnavailable:
    return web.HTTPServiceUnavailable(
        text=json.dumps({"error": f"shared state unavailable: {exc}"}), content_type="application/json"
    )


async def limited(request: web.Request) -> web.Response:
    cfg, store = request.app[state_config_key], request.app[state_store_key]
    client = client_id(request)
    now = time.time()
    # Fixed windows aligned on the clock, which every worker on the machine shares.
    window = int(now // cfg.rate_window_s)
    try:
        count = await store.hit(client, window)
    except StateUnavailable as exc:
        raise _unavailable(exc) from None
    body = {
        "client": client,
        "count": count,
        "limit": cfg.rate_limit,
        "remaining": max(0, cfg.rate_limit - count),
        "window": window,
        "window_s": cfg.rate_window_s,
        "backend": store.backend,
        "pid": os.getpid(),
    }
    if count > cfg.rate_limit:
        retry_after = max(1, math.ceil((window + 1) * cfg.rate_window_s - now))
        body["error"] = f"rate limit exceeded: at most {cfg.rate_limit} requests per {cfg.rate_window_s:g} s"
        return web.json_response(body, status=429, headers={"Retry-After": str(retry_after)})
    return web.json_response(body)


async def visit(request: web.Request) -> web.Response:
    return await _count(request, counting=True)


async def visits(request: web.Request) -> web.Response:
    return await _count(request, counting=False)


async def _count(request: web.Request, *, counting: bool) -> web.Response:
    store = request.app[state_store_key]
    page = page_name(request)
    try:
        total = await (store.visit(page) if counting else store.visits(page))
    except StateUnavailable as exc:
        raise _unavailable(exc) from None
    return web.json_response({"page": page, "visits": total, "backend": store.backend, "pid": os.getpid()})


async def _store_lifetime(app: web.Application) -> AsyncIterator[None]:
    # Made on the worker's own event loop, after the fork: a Redis connection is never shared by processes.
    app[state_store_key] = make_store(app[state_config_key])
    yield
    await app[state_store_key].close()


def attach_state(app: web.Application, config: StateConfig | None = None) -> None:
    """Add /limited, /visit and /visits to ``app``, with the backend the environment names."""
    app[state_config_key] = config or StateConfig.from_env()
    app.cleanup_ctx.append(_store_lifetime)
    app.add_routes([web.get("/limited", limited), web.get("/visit", visit), web.get("/visits", visits)])
