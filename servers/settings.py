"""The app's settings that a runner sets from its command line: --state and --redis-url.

The app reads its settings from the environment (plumbing.env), so that ``create_app()`` with no
arguments (gunicorn's way) and every forked worker get the same. A runner (servers.single,
servers.cluster) offers them as options and puts them in the environment before any worker
starts. They live here, below the app and the runners, so that a runner needs the app only by
its factory's name.
"""

from __future__ import annotations

import argparse
import os

from plumbing import env

# Where /limited and /visit keep their counts (servers/state.py).
STATE_BACKENDS = ("memory", "redis")


def add_state_arguments(parser: argparse.ArgumentParser) -> None:
    """--state and --redis-url for a server's command line (see ``export_state_arguments``)."""
    parser.add_argument(
        "--state",
        choices=STATE_BACKENDS,
        default=None,
        help=f"where /limited and /visit keep their counts (default: ${env.STATE}, else memory)",
    )
    parser.add_argument("--redis-url", default=None, help=f"the Redis for --state redis (default: ${env.REDIS_URL})")


def export_state_arguments(args: argparse.Namespace) -> None:
    """Put --state and --redis-url in the environment, which every worker (forked or not) reads."""
    if args.state:
        os.environ[env.STATE] = args.state
    if args.redis_url:
        os.environ[env.REDIS_URL] = args.redis_url
