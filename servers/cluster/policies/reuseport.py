"""``reuseport``: each worker opens its own SO_REUSEPORT socket on the same port.

Linux then spreads new connections over those sockets by a hash of the client's address and
port: even on average, blind to how busy each worker is, and a connection queued on a worker
that stops is lost with its socket. (On macOS SO_REUSEPORT does not balance at all.)
"""

from __future__ import annotations

from aiohttp import web

from servers.cluster.policies.base import WorkersAccept
from servers.cluster.policies.sock_site import DrainingSockSite
from servers.listen import open_listener


class ReusePortPolicy(WorkersAccept):
    name = "reuseport"

    def open(self) -> None:
        # Bind once to learn whether the port is free and the option exists, then let go: a
        # listening socket in the primary would get its share of connections and never accept them.
        open_listener(self.config.host, self.config.port, reuse_port=True).close()

    def worker_site(self, runner: web.BaseRunner) -> web.BaseSite | None:
        return DrainingSockSite(runner, open_listener(self.config.host, self.config.port, reuse_port=True))

    def close(self) -> None:
        pass
