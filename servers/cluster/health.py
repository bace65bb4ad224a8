"""The cluster's health as GET /cluster-health answers it (servers/cluster/admin.py serves it)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from servers.cluster.primary_view import PrimaryView


def cluster_health(primary: PrimaryView) -> dict[str, Any]:
    """The primary, its target, its restarts, and each worker's state and last heartbeat."""
    now = time.monotonic()
    return {
        "primary_pid": os.getpid(),
        "policy": primary.policy.name,
        "target_workers": primary.target,
        "uptime_s": round(now - primary.started, 3),
        "restarts": primary.restarts,
        "stopping": primary.stopping_since is not None,
        "workers": [
            {
                "pid": w.pid,
                "slot": w.slot,
                "state": w.state,
                "rss_bytes": w.beat.get("rss_bytes"),
                "uptime_s": round(now - w.started, 3),
                "requests_served": w.beat.get("requests_served", 0),
                "last_heartbeat": w.beat.get("time"),
                "heartbeat_age_s": round(now - w.last_heartbeat, 3),
            }
            for w in sorted(primary.workers.values(), key=lambda w: (w.slot, w.started))
        ],
    }
