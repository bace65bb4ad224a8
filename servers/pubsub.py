"""Sticky sessions plus python-socketio's Redis adapter: every message reaches every room member.

python -m servers.pubsub [--workers N] [--redis-url URL] [--host 127.0.0.1] [--port 8000]

Each worker's AsyncRedisManager delivers an emit to its own clients, then publishes it on a Redis
channel; the other workers deliver what they receive there to theirs. Redis pub/sub is
at-most-once: a message published while a worker is cut off from Redis never reaches that
worker's clients (and nothing says so). Without --redis-url (or CORELAB_REDIS_URL, REDIS_URL) the primary starts a
redis-server on a free loopback port (plumbing.redis_server) and stops it when it stops.
"""

from __future__ import annotations

import argparse
import os
import sys

from plumbing import env
from plumbing.redis_server import RedisConfig, RedisServer, RedisUnavailable
from servers.cluster.__main__ import main as cluster_main
from servers.sticky import sticky_argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    # corelab's bench(redis=True) hands its Redis over as CORELAB_REDIS_URL.
    parser.add_argument("--redis-url", default=os.environ.get(env.REDIS_URL) or os.environ.get(env.GENERIC_REDIS_URL))
    ours, rest = parser.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if "-h" in rest or "--help" in rest:
        print(__doc__)
        return 0
    cluster_args = sticky_argv(rest)
    try:
        # Tied to this primary: a SIGKILLed primary must not leave its Redis behind.
        redis = RedisServer(RedisConfig(die_with_parent=True)).start() if not ours.redis_url else None
    except RedisUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if redis is not None:
        url = redis.url
        print(f"pubsub: Redis {redis.describe()}", file=sys.stderr, flush=True)
    else:
        url = ours.redis_url
        print(f"pubsub: Redis at {url} (given)", file=sys.stderr, flush=True)
    # The workers are forked from this process: they inherit the URL and build their Redis manager.
    os.environ[env.CHAT_REDIS_URL] = url
    # One channel per cluster, so two clusters sharing a Redis keep their rooms apart; hosts that
    # are one chat across machines (servers.fleet, docs/fleet.md) name theirs in CORELAB_CHAT_CHANNEL.
    os.environ.setdefault(env.CHAT_CHANNEL, f"corelab-chat-{os.getpid()}")
    try:
        return cluster_main(cluster_args)
    finally:
        if redis is not None:
            redis.close()


if __name__ == "__main__":
    sys.exit(main())
