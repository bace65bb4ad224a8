"""A worker: serve the kit's app on a listening socket it inherited. Given: you need not change it.

The primary opens the socket once and forks; every child has a copy of the same socket, so
they all accept on one port and the kernel hands each new connection to one of them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from aiohttp import web

from servers.app import create_app  # GET /work?ms=N burns N ms of CPU; GET /health says which pid answered


def serve(sock: socket.socket) -> None:
    """Serve on ``sock`` until SIGTERM or SIGINT, finish the requests in flight, return."""
    asyncio.run(_serve(sock))


async def _serve(sock: socket.socket) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(create_app(), handle_signals=False, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    print(f"worker {os.getpid()} serving", flush=True)
    await stop.wait()
    await runner.cleanup()
