"""Lab 2: keep the event loop free while requests burn CPU.

    python server.py --port 8000

GET /work?ms=N burns N ms of pure-Python CPU. GET /health does no work at all: it answers at
once, whenever the event loop gets to it. Right now /work burns ON the event loop, so while
one burn runs nothing else in this process moves, and /health waits behind every burn queued.

  TODO 1  make a process pool when the app starts, shut it down when the app stops
          (app.cleanup_ctx, see _pool_lifetime below);
  TODO 2  in work(), burn in that pool: await loop.run_in_executor(pool, burn_cpu, ms).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator

from aiohttp import web

from servers.burn import burn_cpu
from servers.params import positive_ms

pool_key = web.AppKey("pool", object)


async def work(request: web.Request) -> web.Response:
    ms = positive_ms(request, "ms", cap=1000)
    # TODO 2: this runs on the event loop itself. Hand it to the pool instead.
    burn_cpu(ms)
    return web.json_response({"pid": os.getpid(), "ms": ms})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"pid": os.getpid(), "ok": True})


async def _pool_lifetime(app: web.Application) -> AsyncIterator[None]:
    # TODO 1: make the pool here (before the yield) and shut it down after the yield.
    app[pool_key] = None
    yield


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_pool_lifetime)
    app.add_routes([web.get("/work", work), web.get("/health", health)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="a server with CPU-heavy requests")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    # run_app stops on SIGTERM and Ctrl-C, and runs the cleanup (your pool's shutdown) on the way out.
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None)


if __name__ == "__main__":
    main()
