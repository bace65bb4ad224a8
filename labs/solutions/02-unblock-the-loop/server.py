"""Lab 2, a solution: the CPU work goes to a process pool, and the event loop stays free.

python server.py --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from aiohttp import web

from plumbing.cores import usable_core_count
from plumbing.lifeline import die_with_parent
from servers.burn import burn_cpu
from servers.params import positive_ms

pool_key = web.AppKey("pool", ProcessPoolExecutor)


async def work(request: web.Request) -> web.Response:
    ms = positive_ms(request, "ms", cap=1000)
    # The loop only waits for the answer; another process (another core) burns meanwhile.
    await asyncio.get_running_loop().run_in_executor(request.app[pool_key], burn_cpu, ms)
    return web.json_response({"pid": os.getpid(), "ms": ms})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"pid": os.getpid(), "ok": True})


async def _pool_lifetime(app: web.Application) -> AsyncIterator[None]:
    # Processes, not threads: where the GIL is on (the usual CPython build) pure-Python threads would
    # still take turns with the loop; processes keep it free on every Python, free-threaded or not.
    # spawn, named rather than the default: a fresh interpreter, not a copy of this one with its event
    # loop, and the same on every Python (the default is fork on Linux up to 3.13, forkserver from 3.14,
    # spawn on macOS).
    # die_with_parent: if this server is SIGKILLed, the kernel ends the pool's processes too.
    # One process per core this server may use (its affinity mask, a CPU quota), not the machine's count.
    pool = ProcessPoolExecutor(
        max_workers=usable_core_count(), mp_context=get_context("spawn"), initializer=die_with_parent
    )
    app[pool_key] = pool
    yield
    pool.shutdown(wait=True, cancel_futures=True)


def create_app() -> web.Application:
    app = web.Application()
    app.cleanup_ctx.append(_pool_lifetime)
    app.add_routes([web.get("/work", work), web.get("/health", health)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="a server with CPU-heavy requests")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    # run_app stops on SIGTERM and Ctrl-C, and runs the cleanup (the pool's shutdown) on the way out.
    web.run_app(create_app(), host="127.0.0.1", port=args.port, access_log=None)


if __name__ == "__main__":
    main()
