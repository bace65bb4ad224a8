"""A cluster worker: one forked process, one event loop, serving the app.

The primary forks this; ``run_worker`` never returns, it ends the process with ``os._exit`` so
that nothing the primary set up (atexit hooks, finally blocks) runs twice.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import traceback
from collections.abc import Callable

from aiohttp import web

from servers.cluster import protocol
from servers.cluster.config import ClusterConfig
from servers.cluster.protocol import Channel
from servers.lifeline import die_with_parent
from servers.serve import serve_until

# A worker that fails before it serves exits with this code; the primary then stops the
# cluster instead of respawning a worker that will fail the same way forever.
EXIT_BOOT_FAILED = 70


def run_worker(
    config: ClusterConfig,
    channel: Channel,
    open_listener: Callable[[], socket.socket | None],
    primary_pid: int,
) -> None:
    # Forget the primary's signal handling: the primary tells workers when to stop (SIGTERM).
    # Ctrl-C in a terminal reaches the whole process group; the primary turns it into SIGTERM.
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGHUP, signal.SIGCHLD, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(primary_pid)
    code = 0
    try:
        asyncio.run(_serve(config, channel, open_listener))
    except BootError:
        code = EXIT_BOOT_FAILED
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


_handoffs: set[asyncio.Task] = set()


class BootError(Exception):
    pass


async def _serve(config: ClusterConfig, channel: Channel, open_listener: Callable[[], socket.socket | None]) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    channel.sock.setblocking(False)
    serving = False

    async def start(runner: web.AppRunner) -> None:
        nonlocal serving
        listener = open_listener()
        if listener is not None:
            await web.SockSite(runner, listener).start()
        loop.add_reader(channel.fileno(), _on_channel, channel, runner, stop)
        channel.send(protocol.READY, pid=os.getpid())
        serving = True

    try:
        await serve_until(stop, start, shutdown_timeout=config.graceful_timeout)
    except Exception as exc:
        if serving:
            raise
        # The app could not be built or the port opened: say it once, plainly, and let the
        # primary stop the cluster rather than respawn a worker that will fail the same way.
        print(f"worker {os.getpid()}: cannot start: {exc}", file=sys.stderr)
        raise BootError from exc


def _on_channel(channel: Channel, runner: web.AppRunner, stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    try:
        messages = channel.receive()
    except BlockingIOError:
        return
    except (EOFError, ConnectionError):
        # The primary is gone. On Linux the kernel has already sent SIGKILL (die_with_parent);
        # elsewhere, stop serving now rather than linger as an orphan.
        loop.remove_reader(channel.fileno())
        stop.set()
        return
    for msg, fd in messages:
        if msg["act"] == protocol.CONN and fd is not None:
            conn = socket.socket(fileno=fd)
            conn.setblocking(False)
            if stop.is_set() or runner.server is None:
                conn.close()
                continue
            # Keep a reference until the task is done: the loop holds tasks only weakly.
            task = loop.create_task(loop.connect_accepted_socket(runner.server, conn))
            _handoffs.add(task)
            task.add_done_callback(_handoffs.discard)
