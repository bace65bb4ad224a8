"""``reuseport``: each worker opens its own SO_REUSEPORT socket on the same port.

Linux then spreads new connections over those sockets by a hash of the client's address and
port: even on average, blind to how busy each worker is, and a connection queued on a worker
that stops is lost with its socket. That is Linux's SO_REUSEPORT (3.9+). On macOS and the BSDs
SO_REUSEPORT lets the sockets share the port but does not balance: the last socket bound gets
every connection, so one worker serves and the others idle; the policy says so when it starts.
"""

from __future__ import annotations

import sys

from aiohttp import web

from servers.cluster.policies.base import WorkersAccept
from servers.cluster.policies.sock_site import DrainingSockSite
from servers.listen import open_listener


def reuseport_warning(platform: str | None = None) -> str | None:
    """One line where SO_REUSEPORT does not balance (everywhere but Linux); None on Linux."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        return None
    return (
        f"warning: --policy reuseport on {platform}: SO_REUSEPORT does not balance here (the last socket "
        "bound gets every connection, so one worker serves); Linux hashes connections over the workers"
    )


class ReusePortPolicy(WorkersAccept):
    name = "reuseport"

    def open(self) -> None:
        warning = reuseport_warning()
        if warning:
            print(warning, file=sys.stderr, flush=True)
        # Bind once to learn whether the port is free and the option exists, then let go: a
        # listening socket in the primary would get its share of connections and never accept them.
        open_listener(self.config.host, self.config.port, reuse_port=True).close()

    def worker_site(self, runner: web.BaseRunner) -> web.BaseSite | None:
        return DrainingSockSite(runner, open_listener(self.config.host, self.config.port, reuse_port=True))

    def close(self) -> None:
        pass
