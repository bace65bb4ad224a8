"""Connection per request: GET / as fast as it goes, each request on a new connection (Connection: close).

What it teaches: what it costs to place a connection. The request itself costs next to nothing,
so what is measured is connections: accept, hand over, close. With the cluster's rr and sticky
policies every one of them passes through the primary; with shared and reuseport the kernel
hands them straight to a worker. corelab.lessons.connections.primary_cost_bench runs it and measures the primary's CPU.

Locust, not the server, is the limit here (on the 2-core VM one Locust process opens 1,300 to
2,000 connections a second at 86-98% of a core): that is fine for a figure in CPU per connection.

When CORELAB_CONNECTION_TIMELINE names a file (NAME.csv), each Locust process that sent requests
writes NAME-<pid>.csv beside it: the connections served per tenth of a second
(``t`` in Unix seconds, the bucket's start) are written there as CSV when Locust quits, so the
benchmark can count the connections inside exactly the window in which it measured CPU.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _worker_counts
from locust import FastHttpUser, events, task

from plumbing import env

# Tenths of a second (Unix time x 10) -> connections answered, and those that failed.
_served: Counter[int] = Counter()
_failed: Counter[int] = Counter()


class ConnectionPerRequestUser(FastHttpUser):
    # One request at a time per user and no wait: each user opens, asks, closes, opens again.
    concurrency = 1

    @task
    def hello(self) -> None:
        # The server answers "Connection: close" and closes; the client connects anew next time.
        resp = self.client.get("/", name="/ (new connection)", headers={"Connection": "close"})
        _worker_counts.note_connection(resp.headers.get("X-Worker-Pid") if resp.headers else None)


@events.request.add_listener
def _count_connection(exception: Any = None, **_kwargs: Any) -> None:
    bucket = math.floor(time.time() * 10)
    (_failed if exception else _served)[bucket] += 1


@events.quitting.add_listener
def _write_timeline(**_kwargs: Any) -> None:
    path = os.environ.get(env.CONNECTION_TIMELINE)
    if not path or not (_served or _failed):
        return  # nothing to say (a distributed run's master sends no requests)
    # One file per process that sent requests: with K generator processes, K files, summed by the reader.
    mine = Path(path).with_name(f"{Path(path).stem}-{os.getpid()}{Path(path).suffix}")
    with open(mine, "w") as f:
        f.write("t,connections,failures\n")
        for bucket in sorted(_served.keys() | _failed.keys()):
            f.write(f"{bucket / 10:.1f},{_served[bucket]},{_failed[bucket]}\n")
