"""The cluster with sticky sessions: each Socket.IO session's requests reach the worker that holds it.

python -m servers.sticky [--workers N] [--host 127.0.0.1] [--port 8000]

Every client connects, long-polling ones included, but each worker still keeps its own rooms:
a message reaches only the room members held by the sender's worker. servers.pubsub adds the
Redis adapter that relays it to the others. The routing is servers/cluster/policies/sticky.py.
"""

from __future__ import annotations

import argparse
import sys

from servers.cluster.__main__ import main as cluster_main


def sticky_argv(argv: list[str]) -> list[str]:
    """The cluster's arguments with the sticky policy; any other --policy is refused."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--policy", default="sticky")
    known, rest = parser.parse_known_args(argv)
    if known.policy != "sticky":
        raise SystemExit(f"error: this variant routes by session: --policy must be sticky, not {known.policy!r}")
    return ["--policy", "sticky", *rest]


def main(argv: list[str] | None = None) -> int:
    return cluster_main(sticky_argv(list(sys.argv[1:] if argv is None else argv)))


if __name__ == "__main__":
    sys.exit(main())
