"""``shared-one``: the shared socket, but a worker accepts one connection each time it wakes.

The same inherited socket as ``shared``; only the workers' accept loop changes. After each
accept the worker goes back to its event loop, so when a burst of clients arrives at once the
workers take turns at the queue instead of the first one awake draining it. A worker busy
with a request does not come back to accept, so connections also lean towards the idle one.
Nothing in the primary: it costs no hand-off, unlike ``rr``. It is fair in practice, not by
construction (the kernel still chooses who wakes): notebook 03 measures it beside the others.
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from servers.cluster.policies.shared import SharedPolicy


class AcceptOneSite(web.BaseSite):
    """An aiohttp site that accepts one connection per readiness event of a shared socket."""

    def __init__(self, runner: web.BaseRunner, sock: socket.socket) -> None:
        super().__init__(runner)
        self._sock = sock
        self._tasks: set[asyncio.Task[object]] = set()  # the loop holds tasks only weakly

    @property
    def name(self) -> str:
        host, port = self._sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def start(self) -> None:
        await super().start()
        asyncio.get_running_loop().add_reader(self._sock.fileno(), self._accept_one)

    async def stop(self) -> None:
        asyncio.get_running_loop().remove_reader(self._sock.fileno())
        await super().stop()

    def _accept_one(self) -> None:
        try:
            conn, _addr = self._sock.accept()
        except (BlockingIOError, InterruptedError):
            return  # another worker was quicker
        except OSError:
            return  # e.g. EMFILE: the connection stays queued for the next wake-up
        conn.setblocking(False)
        server = self._runner.server
        assert server is not None
        task = asyncio.get_running_loop().create_task(asyncio.get_running_loop().connect_accepted_socket(server, conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class SharedOnePolicy(SharedPolicy):
    name = "shared-one"

    def worker_site(self, runner: web.BaseRunner) -> web.BaseSite | None:
        assert self.sock is not None, "open() runs in the primary before any worker is forked"
        return AcceptOneSite(runner, self.sock)
