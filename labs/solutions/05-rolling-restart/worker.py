"""A worker: serve the kit's app on an inherited socket, say when ready, drain on SIGTERM. Given.

Ready: once it accepts connections, the worker writes one byte to ``ready_fd`` (a pipe the
primary reads; see wait_ready in primary.py).
Draining, on SIGTERM: stop accepting (the socket stays open in the primary and the other
workers, so new connections wait there for them), give connections accepted a moment ago time
to send their request, finish every request in flight, exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from aiohttp import web

from servers.app import create_app  # GET /work?ms=N burns N ms of CPU; GET /health says which pid answered

# Connections accepted just before the stop may not have sent their request yet.
SETTLE_S = 0.3


def run(sock: socket.socket, ready_fd: int) -> int:
    """Serve until SIGTERM or SIGINT; returns the exit code."""
    asyncio.run(_serve(sock, ready_fd))
    return 0


async def _serve(sock: socket.socket, ready_fd: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(create_app(), handle_signals=False, access_log=None, shutdown_timeout=10.0)
    await runner.setup()
    site = web.SockSite(runner, sock)
    await site.start()
    os.write(ready_fd, b"r")
    os.close(ready_fd)
    await stop.wait()
    await site.stop()  # no new connections for this worker
    await asyncio.sleep(SETTLE_S)
    await runner.cleanup()  # waits for the requests in flight
