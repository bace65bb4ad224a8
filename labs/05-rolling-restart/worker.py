"""A worker: serve the kit's app on an inherited socket, say when ready, drain on SIGTERM. Given.

Ready: once it accepts connections, the worker writes one byte to ``ready_fd`` (a pipe the
primary reads; see wait_ready in primary.py).
Draining, on SIGTERM: stop accepting (the socket stays open in the primary and the other
workers, so new connections wait there for them), answer every connection already accepted,
including one whose request has not arrived yet, then exit.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket

from aiohttp import web

from servers.app import create_app  # GET /work?ms=N burns N ms of CPU; GET /health says which pid answered
from servers.cluster.policies.sock_site import DrainingSockSite

# A connection accepted just before the stop may not have sent its request yet; closing it then
# resets it. So settle a moment, then wait until every accepted connection has had its answer
# and gone (the check's clients close after one), at most 5 s.
SETTLE_S, DRAIN_TIMEOUT_S = 0.3, 5.0


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
    # The kit's SockSite, whose stop() never drops a connection accepted at that very moment.
    site = DrainingSockSite(runner, sock)
    await site.start()
    os.write(ready_fd, b"r")
    os.close(ready_fd)
    await stop.wait()
    await site.stop()  # no new connections for this worker
    await asyncio.sleep(SETTLE_S)
    deadline = loop.time() + DRAIN_TIMEOUT_S
    while runner.server is not None and runner.server.connections and loop.time() < deadline:
        await asyncio.sleep(0.02)
    await runner.cleanup()  # closes what is left (an idle keep-alive connection) and waits for requests in flight
