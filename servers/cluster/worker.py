"""A cluster worker: one forked process, one event loop, serving the app.

The primary forks this; ``run_worker`` never returns, it ends the process with ``os._exit`` so
that nothing the primary set up (atexit hooks, finally blocks) runs twice.

Besides serving, a worker beats: every ``heartbeat_interval`` its event loop sends the primary
its pid, memory, uptime and requests served. A blocked loop stops beating, which is how the
primary tells a hung worker from a busy one. Stopping is a drain, not a cut: the worker stops
taking connections, sends the app's ``on_shutdown`` at once (where the chat ends its Socket.IO
sessions: a WebSocket or a long-poll never finishes by itself, and their clients reconnect to
another worker), answers each request still coming on an open connection with
``Connection: close`` (so clients reconnect instead of meeting a closed socket), waits for
in-flight requests, then exits.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import random
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable

import psutil
from aiohttp import web

from plumbing.lifeline import die_with_parent
from servers.cluster import protocol
from servers.cluster.config import ClusterConfig
from servers.cluster.policies.base import Policy
from servers.cluster.protocol import Channel
from servers.request_count import RequestCount, count_requests
from servers.serve import start_runner

# A worker that fails before it serves exits with this code; the primary then stops the
# cluster instead of respawning a worker that will fail the same way forever.
EXIT_BOOT_FAILED = 70

# A draining worker whose open connections have all been quiet this long closes them: they
# belong to idle clients, not to a closed-loop load that would send its next request at once.
QUIET_BEFORE_CLOSE_S = 0.5


def run_worker(
    config: ClusterConfig,
    channel: Channel,
    policy: Policy,
    primary_pid: int,
) -> None:
    # Forget the primary's signal handling: the primary tells workers what to do. Ctrl-C and a
    # terminal's hangup reach the whole process group; the primary turns them into orders.
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR2, signal.SIGTTIN, signal.SIGTTOU):
        signal.signal(sig, signal.SIG_IGN)
    die_with_parent(primary_pid)
    code = 0
    try:
        asyncio.run(Worker(config, channel, policy).serve())
    except BootError:
        code = EXIT_BOOT_FAILED
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


class BootError(Exception):
    pass


def load_factory(spec: str) -> Callable[[], web.Application]:
    module_name, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def preload_app(spec: str) -> None:
    """Import the app's module in the primary, once, so that each forked worker boots fast.

    A module that fails to import is left for the workers: each then fails to boot and says why,
    and the primary stops the cluster (EXIT_BOOT_FAILED), as without the preload.
    """
    try:
        importlib.import_module(spec.partition(":")[0])
    except Exception:
        pass


class Worker:
    def __init__(self, config: ClusterConfig, channel: Channel, policy: Policy) -> None:
        self.config = config
        self.channel = channel
        # How this worker takes connections: a site of its own, or what the primary hands over.
        self.policy = policy
        self.started = time.monotonic()
        # Made when the app is built: the responses it has sent (servers/request_count.py).
        self.requests = RequestCount()
        self.stopping = asyncio.Event()
        self.draining = False
        self.runner: web.AppRunner | None = None
        self.handoffs: set[asyncio.Task] = set()  # the loop holds tasks only weakly
        self.recycle_asked = False
        # gunicorn's jitter: workers started together do not all recycle at the same moment.
        self.max_requests = config.max_requests + random.randint(0, config.max_requests_jitter)
        self.process = psutil.Process()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        self.channel.sock.setblocking(False)
        try:
            await self._boot()
        except Exception as exc:
            # The app could not be built or the port opened: say it once, plainly, and let the
            # primary stop the cluster rather than respawn a worker that will fail the same way.
            print(f"worker {os.getpid()}: cannot start: {exc!r}", file=sys.stderr)
            raise BootError from exc
        assert self.runner is not None
        loop.add_reader(self.channel.fileno(), self._on_channel)
        self._send(protocol.READY, pid=os.getpid())
        beats = loop.create_task(self._heartbeats())
        try:
            await self.stopping.wait()
            await self._drain()
        finally:
            beats.cancel()
            await self.runner.cleanup()

    async def _boot(self) -> None:
        app = load_factory(self.config.app)()
        # The app's own count if it keeps one (servers.app does, for /health), else one made here;
        # its hook runs before ours, so a response is counted before _on_response looks.
        self.requests = count_requests(app)
        app.on_response_prepare.append(self._on_response)
        self.runner = await start_runner(app, shutdown_timeout=self.config.graceful_timeout)
        site = self.policy.worker_site(self.runner)
        if site is not None:
            await site.start()

    async def _on_response(self, _request: web.Request, response: web.StreamResponse) -> None:
        if self.draining:
            # The client will open its next request elsewhere instead of on a socket we close.
            # (aiohttp has already computed the headers when this hook runs: say it in both places.)
            response.force_close()
            response.headers["Connection"] = "close"
        elif self.max_requests and self.requests.served >= self.max_requests and not self.recycle_asked:
            self.recycle_asked = True
            self._send(protocol.RECYCLE, reason=f"served {self.requests.served} requests")

    async def _heartbeats(self) -> None:
        while True:
            self._send(
                protocol.HEARTBEAT,
                pid=os.getpid(),
                rss_bytes=self.process.memory_info().rss,
                uptime_s=round(time.monotonic() - self.started, 3),
                requests_served=self.requests.served,
                time=time.time(),
            )
            await asyncio.sleep(self.config.heartbeat_interval)

    async def _drain(self) -> None:
        """Stop taking connections; end long-lived ones; let the others finish their requests and close."""
        assert self.runner is not None
        self.draining = True
        for site in list(self.runner.sites):
            await site.stop()
        # Connections accepted (or handed over) just before the stop are still being set up:
        # let them join the server's list, or the check below would close them unseen.
        await asyncio.sleep(0)
        if self.handoffs:
            await asyncio.wait(list(self.handoffs), timeout=1.0)
        await asyncio.sleep(0)
        # A WebSocket, or a long-poll waiting for news, is a request that never finishes: the wait
        # below would spend the whole graceful timeout on it. aiohttp's on_shutdown signal is where
        # an app closes such connections (the chat ends its Socket.IO sessions there, and their
        # clients reconnect to a worker that serves); runner.cleanup() sends it only after this
        # wait, so send it now. cleanup() sends it again: the chat's hook is idempotent.
        await self.runner.shutdown()
        server = self.runner.server
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.graceful_timeout
        while server is not None and server.connections and loop.time() < deadline:
            busy = any(getattr(conn, "_request_in_progress", False) for conn in server.connections)
            if not busy and time.monotonic() - self.requests.last_response >= QUIET_BEFORE_CLOSE_S:
                break
            await asyncio.sleep(0.02)
        # runner.cleanup() (in serve) closes what is left and waits for any request still running.

    def _send(self, act: str, **fields: object) -> None:
        try:
            self.channel.send(act, **fields)
        except (BlockingIOError, InterruptedError):
            pass  # the primary is behind on reading: a heartbeat can be skipped
        except OSError:
            self.stopping.set()  # the primary is gone

    def _on_channel(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            messages = self.channel.receive()
        except BlockingIOError:
            return
        except (EOFError, ConnectionError):
            # The primary is gone. On Linux the kernel has already sent SIGKILL (die_with_parent);
            # elsewhere, stop serving now rather than linger as an orphan.
            loop.remove_reader(self.channel.fileno())
            self.stopping.set()
            return
        for msg, fd in messages:
            if msg["act"] == protocol.CONN and fd is not None:
                self._take_connection(socket.socket(fileno=fd))
            elif msg["act"] == protocol.STOP:
                self.stopping.set()

    def _take_connection(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if self.draining or self.runner is None or self.runner.server is None:
            conn.close()
            return
        loop = asyncio.get_running_loop()
        task = loop.create_task(loop.connect_accepted_socket(self.runner.server, conn))
        self.handoffs.add(task)
        task.add_done_callback(self.handoffs.discard)
