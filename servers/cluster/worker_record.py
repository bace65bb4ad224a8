"""The primary's record of one worker process: its slot, its state, its channel, its last heartbeat.

(The worker process itself is servers/cluster/worker.py.) A worker goes through these states:

    booting -> serving -> (superseded ->) draining -> gone

"superseded" is a rolling restart's middle step: its successor is booting, and it keeps
serving until the successor is ready; only then is it told to drain. Only booting and serving
workers hold a slot: a slot without one gets a new worker.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from typing import Any

from servers.cluster.protocol import Channel

BOOTING, SERVING, SUPERSEDED, DRAINING = "booting", "serving", "superseded", "draining"


@dataclass
class WorkerRecord:
    pid: int
    slot: int
    channel: Channel
    started: float = field(default_factory=time.monotonic)
    state: str = BOOTING
    last_heartbeat: float = field(default_factory=time.monotonic)
    # The last heartbeat's fields: rss_bytes, uptime_s, requests_served, time.
    beat: dict[str, Any] = field(default_factory=dict)
    killed_for: str | None = None

    @property
    def ready(self) -> bool:
        return self.state in (SERVING, SUPERSEDED)

    @property
    def holds_slot(self) -> bool:
        return self.state in (BOOTING, SERVING)


def send_signal(pid: int, sig: int) -> None:
    """Signal a worker that may already be gone (its SIGCHLD is then on its way)."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"
