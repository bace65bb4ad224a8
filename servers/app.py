"""The one aiohttp application that every server variant serves.

``create_app()`` is also what gunicorn's aiohttp worker loads
(``gunicorn 'servers.app:create_app()' --worker-class aiohttp.GunicornWebWorker``).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context

import psutil
from aiohttp import web

from plumbing import env
from plumbing.cores import usable_core_count
from plumbing.lifeline import die_with_parent
from servers.burn import burn_cpu
from servers.chat import attach_chat
from servers.params import choice, positive_ms
from servers.request_count import count_requests, request_count_key
from servers.state import attach_state

OFFLOAD_MODES = ("none", "thread", "process")


@dataclass(frozen=True)
class AppConfig:
    work_cap_ms: float = 1000.0
    io_cap_ms: float = 10000.0
    # Size of the per-process thread and process pools used by /work?offload=...: this process's
    # share of the cores, so that N workers start N pools of cores/N, not N pools of every core.
    pool_size: int = field(default_factory=lambda: pool_share(usable_core_count(), os.environ.get(env.WORKERS)))


def pool_share(cores: int, workers: str | None) -> int:
    """Cores per worker (at least 1): ``workers`` is CORELAB_WORKERS as the primary set it, or None alone."""
    try:
        sharing = max(1, int(workers)) if workers else 1
    except ValueError:
        sharing = 1
    return max(1, cores // sharing)


config_key = web.AppKey("config", AppConfig)
started_key = web.AppKey("started", float)
pools_key = web.AppKey("pools", dict)


@web.middleware
async def worker_pid_header(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Stamp every answer, errors included, with the pid that produced it."""
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        if exc.content_type != "application/json":
            # aiohttp's own 404/405 answers are plain text; the kit answers JSON everywhere.
            exc.text = json.dumps({"error": exc.reason})
            exc.content_type = "application/json"
        exc.headers["X-Worker-Pid"] = str(os.getpid())
        raise
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response


async def hello(request: web.Request) -> web.Response:
    return web.Response(text=f"hello from pid {os.getpid()}\n")


async def work(request: web.Request) -> web.Response:
    cfg = request.app[config_key]
    ms = positive_ms(request, "ms", cfg.work_cap_ms)
    offload = choice(request, "offload", OFFLOAD_MODES)
    started = time.perf_counter()
    if offload == "none":
        # Runs on the event loop itself: nothing else in this process moves meanwhile.
        burn_cpu(ms)
    else:
        pool = _pool(request.app, offload)
        try:
            await asyncio.get_running_loop().run_in_executor(pool, burn_cpu, ms)
        except BrokenExecutor:
            # A pool worker died (killed, out of memory) and the pool now refuses all work. Drop it,
            # so that the next request makes a fresh one, and say so rather than answer 500 forever.
            _drop_pool(request.app, offload, pool)
            raise web.HTTPServiceUnavailable(
                text=json.dumps({"error": f"the {offload} pool lost a worker; a new one is made on the next request"}),
                content_type="application/json",
                headers={"Retry-After": "1"},
            ) from None
    return web.json_response(
        {
            "pid": os.getpid(),
            "ms": ms,
            "offload": offload,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 3),
        }
    )


async def io(request: web.Request) -> web.Response:
    ms = positive_ms(request, "ms", request.app[config_key].io_cap_ms)
    started = time.perf_counter()
    await asyncio.sleep(ms / 1000.0)
    return web.json_response(
        {"pid": os.getpid(), "ms": ms, "elapsed_ms": round((time.perf_counter() - started) * 1000, 3)}
    )


async def health(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "pid": os.getpid(),
            "uptime_s": round(time.monotonic() - request.app[started_key], 3),
            "rss_bytes": psutil.Process().memory_info().rss,
            "requests_served": request.app[request_count_key].served,
        }
    )


def _pool(app: web.Application, kind: str) -> Executor:
    """The process's pool for ``kind``, made on first use and reused for every request after."""
    pools = app[pools_key]
    if kind not in pools:
        size = app[config_key].pool_size
        if kind == "thread":
            pools[kind] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="work")
        else:
            # spawn, not fork: this process may already run threads, and forking those is unsafe.
            pools[kind] = ProcessPoolExecutor(
                max_workers=size, mp_context=get_context("spawn"), initializer=die_with_parent
            )
    return pools[kind]


def _drop_pool(app: web.Application, kind: str, broken: Executor) -> None:
    # Requests in flight on the broken pool all land here; only the first finds it still in place.
    if app[pools_key].get(kind) is broken:
        del app[pools_key][kind]
        broken.shutdown(wait=False, cancel_futures=True)


async def _shutdown_pools(app: web.Application) -> AsyncIterator[None]:
    yield
    for pool in app[pools_key].values():
        pool.shutdown(wait=False, cancel_futures=True)


def create_app(config: AppConfig | None = None) -> web.Application:
    app = web.Application(middlewares=[worker_pid_header])
    app[config_key] = config or AppConfig()
    app[started_key] = time.monotonic()
    # /health reports it; a cluster worker reads the same count for --max-requests and its heartbeats.
    count_requests(app)
    app[pools_key] = {}
    app.cleanup_ctx.append(_shutdown_pools)
    # /limited, /visit and /visits (servers/state.py): in memory or in Redis, as the environment says.
    attach_state(app)
    app.add_routes(
        [
            web.get("/", hello),
            web.get("/work", work),
            web.get("/io", io),
            web.get("/health", health),
        ]
    )
    # Socket.IO at /socket.io/ and the /chat page (servers/chat.py); its modes come from the environment.
    attach_chat(app)
    return app
