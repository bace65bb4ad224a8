"""The cluster's one configuration object, built from the command line."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from plumbing.cores import usable_core_count
from servers.cluster.policies import DEFAULT_POLICY, POLICIES, describe_policies
from servers.listen import LOOPBACK
from servers.settings import add_state_arguments, export_state_arguments

RESTART_MODES = ("rolling", "naive")
DEFAULT_APP = "servers.app:create_app"


@dataclass(frozen=True)
class ClusterConfig:
    workers: int = 2
    policy: str = DEFAULT_POLICY
    host: str = LOOPBACK
    port: int = 8000
    # Seconds a stopping worker gives its in-flight requests before closing them.
    graceful_timeout: float = 10.0
    # "module:factory" of the aiohttp application each worker serves.
    app: str = DEFAULT_APP
    # Loopback port of the primary's GET /cluster-health (None: no admin port).
    admin_port: int | None = None
    # A worker whose heartbeat stops for this many seconds (a blocked loop) is killed; 0: never.
    timeout: float = 30.0
    # What SIGHUP / SIGUSR2 do: replace workers one at a time, or stop all and start all.
    restart: str = "rolling"
    # Replace a worker (gracefully) whose resident memory passes this many MB; None: never.
    max_memory_mb: float | None = None
    # Replace a worker after it has served this many requests, plus up to ``jitter`` more; 0: never.
    max_requests: int = 0
    max_requests_jitter: int = 0

    @property
    def heartbeat_interval(self) -> float:
        # Several beats per timeout, so one late beat is not mistaken for a hung worker.
        return min(1.0, self.timeout / 4) if self.timeout > 0 else 1.0


def parse_args(argv: list[str] | None = None) -> ClusterConfig:
    parser = argparse.ArgumentParser(
        prog="python -m servers.cluster",
        description="A primary and N forked workers serving one port. Signals to the primary: "
        "TERM/INT stop gracefully, QUIT stops now, HUP/USR2 restart the workers (see --restart), "
        "TTIN/TTOU add/remove one worker.",
    )
    parser.add_argument(
        "--workers", type=int, default=usable_core_count(), help="number of workers (default: usable cores)"
    )
    parser.add_argument(
        "--policy",
        choices=list(POLICIES),
        default=DEFAULT_POLICY,
        help=f"how connections reach the workers (default: {DEFAULT_POLICY}). {describe_policies()}. "
        "See servers/cluster/policies/.",
    )
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--graceful-timeout", type=float, default=10.0, help="seconds in-flight requests get on stop")
    parser.add_argument("--app", default=DEFAULT_APP, help=f"module:factory of the app (default: {DEFAULT_APP})")
    parser.add_argument("--admin-port", type=int, default=None, help="serve GET /cluster-health on 127.0.0.1:PORT")
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="kill and replace a worker silent for this many seconds (0: never)"
    )
    parser.add_argument(
        "--restart",
        choices=RESTART_MODES,
        default="rolling",
        help="what SIGHUP/SIGUSR2 do: rolling (one worker at a time, no request lost) or naive (stop all, start all)",
    )
    parser.add_argument("--max-memory", type=float, default=None, metavar="MB", help="replace a worker above this RSS")
    parser.add_argument("--max-requests", type=int, default=0, metavar="N", help="replace a worker after N requests")
    parser.add_argument("--max-requests-jitter", type=int, default=0, metavar="J", help="add 0..J to --max-requests")
    add_state_arguments(parser)
    args = parser.parse_args(argv)
    # Into the environment, which every forked worker inherits and reads in create_app().
    export_state_arguments(args)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    for name in ("port", "admin_port"):
        value = getattr(args, name)
        if value is not None and not 0 <= value <= 65535:
            parser.error(f"--{name.replace('_', '-')} must be between 0 and 65535")
    if args.admin_port is not None and args.admin_port != 0 and args.admin_port == args.port:
        parser.error("--admin-port must differ from --port: health stays off the public port")
    if ":" not in args.app:
        parser.error("--app must look like module:factory")
    if args.timeout < 0 or args.graceful_timeout < 0:
        parser.error("--timeout and --graceful-timeout must not be negative")
    if args.max_memory is not None and args.max_memory <= 0:
        parser.error("--max-memory must be positive")
    if args.max_requests < 0 or args.max_requests_jitter < 0:
        parser.error("--max-requests and --max-requests-jitter must not be negative")
    return ClusterConfig(
        workers=args.workers,
        policy=args.policy,
        host=args.host,
        port=args.port,
        graceful_timeout=args.graceful_timeout,
        app=args.app,
        admin_port=args.admin_port,
        timeout=args.timeout,
        restart=args.restart,
        max_memory_mb=args.max_memory,
        max_requests=args.max_requests,
        max_requests_jitter=args.max_requests_jitter,
    )
