"""Serve an aiohttp application: the one way the kit's runners set up aiohttp's AppRunner.

``start_runner`` is used by a single process (``serve_until``) and by every cluster worker. It
also makes every runner log a request it cannot parse in one line (``log_bad_requests_in_one_line``).
Which application is served is the caller's business: nothing here imports it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

StartSites = Callable[[web.AppRunner], Awaitable[None]]

# The logger aiohttp's request handler reports errors on (aiohttp.log.server_logger).
AIOHTTP_SERVER_LOGGER = "aiohttp.server"
# Enough of the parser's complaint to name the problem; a 70 KB request line is not repeated.
MAX_PROBLEM_CHARS = 120


async def start_runner(app: web.Application, *, shutdown_timeout: float) -> web.AppRunner:
    """aiohttp's runner for ``app``, set up; the caller adds the sites and calls ``cleanup()``.

    The caller handles signals (a single process stops on SIGINT/SIGTERM, a cluster worker when
    its primary says so), and ``shutdown_timeout`` is how long in-flight requests get on stop.
    """
    log_bad_requests_in_one_line()
    # No access log: formatting a line per request would be a large share of a cheap request's CPU.
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout, access_log=None)
    await runner.setup()
    return runner


async def serve_until(
    app: web.Application, stop: asyncio.Event, start_sites: StartSites, *, shutdown_timeout: float
) -> None:
    """Serve ``app`` on the sites that ``start_sites`` opens until ``stop`` is set.

    On stop, aiohttp's runner closes the listening sockets, closes idle keep-alive
    connections, sends the app's ``on_shutdown`` (the chat ends its sessions there: their
    clients reconnect) and waits up to ``shutdown_timeout`` seconds for in-flight requests.
    """
    runner = await start_runner(app, shutdown_timeout=shutdown_timeout)
    try:
        await start_sites(runner)
        await stop.wait()
    finally:
        await runner.cleanup()


class OneLineBadRequests(logging.Filter):
    """Turn aiohttp's "Error handling request" traceback for a request it cannot parse into one line.

    aiohttp answers a 70 KB request line or 2,000 headers with 400 (its parser's limits: 8,190
    bytes a line, 128 headers), then logs the parser's exception with a traceback, as if the
    server had failed (aiohttp/web_protocol.py, ``RequestHandler.handle_error``). It is the
    client's mistake and already answered, so a warning of one line says so. Any other error
    (a handler that raised: a real 500) keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            remote = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
            problem = " ".join(str(exc.message).split())
            if len(problem) > MAX_PROBLEM_CHARS:
                problem = problem[:MAX_PROBLEM_CHARS] + "..."
            record.msg = "%d Bad Request from %s (pid %d): %s"
            record.args = (exc.code, remote, os.getpid(), problem)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


def log_bad_requests_in_one_line() -> None:
    """Install ``OneLineBadRequests`` on aiohttp's server logger (once per process)."""
    logger = logging.getLogger(AIOHTTP_SERVER_LOGGER)
    if not any(isinstance(f, OneLineBadRequests) for f in logger.filters):
        logger.addFilter(OneLineBadRequests())
