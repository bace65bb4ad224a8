"""Run the application on an event loop until told to stop, then stop gracefully."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiohttp import web

from servers.app import create_app

StartSites = Callable[[web.AppRunner], Awaitable[None]]


async def serve_until(stop: asyncio.Event, start_sites: StartSites, *, shutdown_timeout: float) -> None:
    """Serve ``create_app()`` on the sites that ``start_sites`` opens until ``stop`` is set.

    On stop, aiohttp's runner closes the listening sockets, closes idle keep-alive
    connections and waits up to ``shutdown_timeout`` seconds for in-flight requests.
    """
    # No access log: formatting a line per request would be a large share of a cheap request's CPU.
    runner = web.AppRunner(create_app(), handle_signals=False, shutdown_timeout=shutdown_timeout, access_log=None)
    await runner.setup()
    try:
        await start_sites(runner)
        await stop.wait()
    finally:
        await runner.cleanup()
