"""Shared state: a per-client rate limit and a visit counter, hit by clients whose requests land on any worker.

What it teaches: workers share no memory. With the server's state in memory (CORELAB_STATE=memory)
a cluster of N workers lets each client through about N x the limit, because each worker counts
only the requests it served, and the visit counter shows one worker's share of the visits. Nothing
fails and nothing is logged: the numbers are silently wrong. With the state in Redis
(CORELAB_STATE=redis) both are exact. Start the server with the same settings as this file reads.

Each user is one client. It sends ``oversend`` x the limit per window, every request on a new
connection (``Connection: close``), as clients behind a load balancer do, so its requests are
spread over the workers. At the end the counter is read back a few times (once per worker, with
luck) and compared with the visits that were answered 200.

Settings (environment variables; corelab's bench passes its ``params`` this way):
CORELAB_RATE_LIMIT (10) and CORELAB_RATE_WINDOW_S (1): the limit the server was given;
CORELAB_OVERSEND (4): how many times the limit each client sends per window; CORELAB_READS (8):
how many times the counter is read back at the end. corelab's bench sets these two to 2x and 4x the
server's workers, so N workers' N separate limits and counters all show.

Locust reports "/limited admitted", "/limited refused" (429s are expected, not failures) and
"/visit". The per-window figures go to the log and, under corelab, to shared_state.json in the run
folder (read it with corelab.lessons.shared_state.outcome).
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.request
from collections import Counter
from itertools import count
from pathlib import Path
from typing import Any

import _worker_counts  # noqa: F401 - counts X-Worker-Pid for corelab
from locust import FastHttpUser, between, events, task

from plumbing import env

RATE_LIMIT = int(os.environ.get(env.RATE_LIMIT, "10"))
WINDOW_S = float(os.environ.get(env.RATE_WINDOW_S, "1"))
OVERSEND = float(os.environ.get(env.OVERSEND, "4"))
READS = int(os.environ.get(env.READS, "8"))
# A tag for this run's client ids and page, so runs never share counts, even on one Redis.
RUN_TAG = f"run{secrets.token_hex(3)}"
PAGE = f"{RUN_TAG}-home"
CLOSE = {"Connection": "close"}
TASKS_PER_S = OVERSEND * RATE_LIMIT / WINDOW_S * 5 / 4

# (client, window) -> requests sent / admitted; visits answered 200.
sent: Counter[tuple[str, int]] = Counter()
admitted: Counter[tuple[str, int]] = Counter()
visits_answered = 0
_user_numbers = count(1)


class SharedStateUser(FastHttpUser):
    # Each client sends `oversend` x the limit per window to /limited (4 tasks in 5) and visits (1 in 5).
    # The waits are random on purpose: with equal fixed waits the users fire in a fixed order, and
    # under the rr policy each client's connections would fall in step with the rotation and
    # always reach the same worker.
    wait_time = between(0.5 / TASKS_PER_S, 1.5 / TASKS_PER_S)

    def on_start(self) -> None:
        self.client_id = f"{RUN_TAG}-c{next(_user_numbers)}"

    @task(4)
    def limited(self) -> None:
        with self.client.get(
            f"/limited?client={self.client_id}", headers=CLOSE, name="/limited", catch_response=True
        ) as response:
            if response.status_code in (200, 429):
                window = int(response.json()["window"])
                sent[self.client_id, window] += 1
                admitted[self.client_id, window] += response.status_code == 200
                # Being refused is the limiter working, not a failed request.
                response.request_meta["name"] = (
                    "/limited admitted" if response.status_code == 200 else "/limited refused"
                )
                response.success()
            else:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")

    @task(1)
    def visit(self) -> None:
        global visits_answered
        with self.client.get(f"/visit?page={PAGE}", headers=CLOSE, name="/visit", catch_response=True) as response:
            if response.status_code == 200:
                visits_answered += 1
            else:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")


def full_windows() -> list[dict[str, Any]]:
    """Admitted and sent per client per window, leaving out each client's first and last (partial) windows."""
    windows: dict[str, list[int]] = {}
    for client, window in sent:
        windows.setdefault(client, []).append(window)
    rows = []
    for client, seen in windows.items():
        for window in sorted(seen)[1:-1]:
            rows.append(
                {"client": client, "window": window, "sent": sent[client, window], "admitted": admitted[client, window]}
            )
    return rows


def read_counter(host: str, reads: int = READS) -> list[dict[str, int]]:
    """GET /visits a few times, each on a new connection, so that (with luck) every worker answers."""
    answers = []
    for _ in range(reads):
        request = urllib.request.Request(f"{host}/visits?page={PAGE}", headers=CLOSE)
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                answers.append(
                    {"pid": int(reply.headers["X-Worker-Pid"]), "visits": json.loads(reply.read())["visits"]}
                )
        except OSError:
            continue
    return answers


@events.test_stop.add_listener
def _report(environment: Any, **_kwargs: Any) -> None:
    rows = full_windows()
    reads = read_counter(environment.host)
    result = {
        "rate_limit": RATE_LIMIT,
        "window_s": WINDOW_S,
        "oversend": OVERSEND,
        "run_tag": RUN_TAG,
        # Which Redis the server was given, when corelab started the run with one.
        "redis_source": os.environ.get(env.REDIS_SOURCE),
        "windows": rows,
        "visits_answered": visits_answered,
        "counter_reads": reads,
    }
    per_window = [r["admitted"] for r in rows]
    mean = sum(per_window) / len(per_window) if per_window else float("nan")
    shown = sorted({r["visits"] for r in reads})
    print(
        f"shared state: limit {RATE_LIMIT} per {WINDOW_S:g} s; admitted per client per window: mean {mean:.1f}, "
        f"max {max(per_window, default=0)} over {len(rows)} full windows; "
        f"visits answered {visits_answered}, counter read back as {shown}",
        flush=True,
    )
    # Under corelab the run folder is where workers.json goes; shared_state.json goes beside it.
    counts_path = os.environ.get(env.WORKER_COUNTS)
    if counts_path:
        Path(counts_path).with_name("shared_state.json").write_text(json.dumps(result, indent=1) + "\n")
