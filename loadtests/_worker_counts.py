"""Count which worker served each response, from its X-Worker-Pid header.

Every scenario imports this module. When the environment variable CORELAB_WORKER_COUNTS
names a file, the counts are written there as JSON when Locust quits, for corelab to read:
``{"<pid>": <responses>, ...}``. Locust ignores files that start with an underscore, so this
module is not mistaken for a scenario by ``locust -f loadtests/``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

from locust import events

served_by: Counter[str] = Counter()


@events.request.add_listener
def _count_worker(response: Any = None, exception: Any = None, **_kwargs: Any) -> None:
    pid = None
    if response is not None and getattr(response, "headers", None) is not None:
        pid = response.headers.get("X-Worker-Pid")
    if pid:
        served_by[pid] += 1


@events.quitting.add_listener
def _write_counts(**_kwargs: Any) -> None:
    path = os.environ.get("CORELAB_WORKER_COUNTS")
    if path:
        with open(path, "w") as f:
            json.dump(dict(served_by), f)
