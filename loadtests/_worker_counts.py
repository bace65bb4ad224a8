"""Count which worker served each response, from its X-Worker-Pid header.

Every scenario imports this module. When the environment variable CORELAB_WORKER_COUNTS
names a file, the counts are written there as JSON when Locust quits, for corelab to read:
``{"<pid>": <responses>, ...}``. Beside it go ``worker_timeline.csv`` (responses per pid per
second: which worker served when, for restart timelines) and ``worker_connections.json``
(connections per pid, for scenarios that call ``note_connection``). Locust ignores files that
start with an underscore, so this module is not mistaken for a scenario by ``locust -f loadtests/``.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from typing import Any

import _cores_ui  # noqa: F401 - the live /cores page and Cores tab on Locust's web UI
from locust import events

from plumbing import env

served_by: Counter[str] = Counter()
# (whole second, pid) -> responses, and pid -> connections that a scenario says it opened.
served_per_second: Counter[tuple[int, str]] = Counter()
connections_by: Counter[str] = Counter()


def note_connection(pid: str | None) -> None:
    """A scenario calls this when a response tells it which worker holds a connection it opened."""
    if pid:
        connections_by[pid] += 1


@events.request.add_listener
def _count_worker(response: Any = None, exception: Any = None, **_kwargs: Any) -> None:
    pid = None
    if response is not None and getattr(response, "headers", None) is not None:
        pid = response.headers.get("X-Worker-Pid")
    if pid:
        served_by[pid] += 1
        served_per_second[int(time.time()), pid] += 1


@events.quitting.add_listener
def _write_counts(**_kwargs: Any) -> None:
    path = os.environ.get(env.WORKER_COUNTS)
    if path:
        with open(path, "w") as f:
            json.dump(dict(served_by), f)
        folder = os.path.dirname(path)
        with open(os.path.join(folder, "worker_timeline.csv"), "w") as f:
            f.write("t,pid,responses\n")
            for (second, pid), n in sorted(served_per_second.items()):
                f.write(f"{second},{pid},{n}\n")
        if connections_by:
            with open(os.path.join(folder, "worker_connections.json"), "w") as f:
                json.dump(dict(connections_by), f)
