"""The cluster's one configuration object, built from the command line."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from servers.listen import LOOPBACK

POLICIES = ("shared", "reuseport", "rr", "sticky")


def usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not just the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


@dataclass(frozen=True)
class ClusterConfig:
    workers: int = 2
    policy: str = "shared"
    host: str = LOOPBACK
    port: int = 8000
    # Seconds a stopping worker gives its in-flight requests before closing them.
    graceful_timeout: float = 10.0


def parse_args(argv: list[str] | None = None) -> ClusterConfig:
    parser = argparse.ArgumentParser(
        prog="python -m servers.cluster",
        description="A primary and N forked workers serving one port.",
    )
    parser.add_argument("--workers", type=int, default=usable_cores(), help="number of workers (default: usable cores)")
    parser.add_argument(
        "--policy",
        choices=POLICIES,
        default="shared",
        help="shared: workers accept on one inherited socket; reuseport: one SO_REUSEPORT socket "
        "per worker; rr: the primary accepts and hands connections out in turn; sticky: rr, but a "
        "Socket.IO session's requests go to the worker that holds it (servers/cluster/sticky.py)",
    )
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--graceful-timeout", type=float, default=10.0, help="seconds in-flight requests get on stop")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be between 0 and 65535")
    return ClusterConfig(
        workers=args.workers,
        policy=args.policy,
        host=args.host,
        port=args.port,
        graceful_timeout=args.graceful_timeout,
    )
