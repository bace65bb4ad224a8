"""A worker's site on a listening socket whose stop never drops a connection it has just accepted.

asyncio accepts in two steps: a reader callback calls accept() and creates a task per
connection, and that task, one loop turn later, joins the connection to the server. If the
server closes in between (aiohttp's ``site.stop()`` closes it at once), the task fails quietly
and the accepted socket is left unanswered, to be reset when the worker exits: during a rolling
restart that is a failed request now and then, under load, on a busy machine.

So stop in order: take the socket out of the loop (no more accepts), give connections accepted
in this turn the one turn they need to join, then close the server.
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web


class DrainingSockSite(web.SockSite):
    def __init__(self, runner: web.BaseRunner, sock: socket.socket) -> None:
        super().__init__(runner, sock)
        self.listening = sock

    async def stop(self) -> None:
        asyncio.get_running_loop().remove_reader(self.listening.fileno())
        await asyncio.sleep(0)  # a connection accepted just now joins the server in this turn
        await super().stop()
