"""``shared``: one listening socket, opened by the primary and inherited by every worker.

Every worker waits on the same socket and the kernel wakes whichever it likes. This is what
gunicorn and uvicorn do. Its weakness is a burst: asyncio accepts up to a backlog's worth of
connections each time a worker wakes, so when many clients connect at the same moment the
first worker awake can take them all, and with keep-alive clients the other cores stay idle
for as long as those connections live. Notebook 03 measures how often.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from aiohttp import web

from servers.cluster.policies.base import WorkersAccept
from servers.cluster.policies.sock_site import DrainingSockSite
from servers.listen import open_listener

if TYPE_CHECKING:
    from servers.cluster.policies.base import PolicyConfig


class SharedPolicy(WorkersAccept):
    name = "shared"

    def __init__(self, config: PolicyConfig) -> None:
        super().__init__(config)
        self.sock: socket.socket | None = None

    def open(self) -> None:
        self.sock = open_listener(self.config.host, self.config.port)

    def worker_site(self, runner: web.BaseRunner) -> web.BaseSite | None:
        assert self.sock is not None, "open() runs in the primary before any worker is forked"
        return DrainingSockSite(runner, self.sock)

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
