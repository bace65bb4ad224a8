"""A Redis outage under the chat scenario: the pubsub cluster under load while its Redis is stopped, then started.

    runs = redis_outage()  # pubsub under load while its Redis is stopped, then started again
    outages(runs)          # run, label, down_t, up_t
    delivery_history(runs) # (corelab.harness.chat_results) what was delivered and lost, second by second

The chat scenario's tables (delivery, handshakes) are the harness's: ``corelab.harness.chat_results``.
The claims notebooks 10 and 11 make from them are in ``corelab.lessons.chat.claims``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

import pandas as pd

from corelab.harness.during import During, LiveRun
from corelab.harness.results import Runs, load_runs, machine_info, new_results_dir, stored_summaries, write_summary
from corelab.harness.run import run_one, run_specs
from plumbing import env
from plumbing.redis_server import RedisServer, redis_server

# The events a Redis outage records on the run's clock (corelab.harness.during).
REDIS_STOPPED, REDIS_STARTED = "Redis stopped", "Redis started"


def outages(runs: Runs) -> pd.DataFrame:
    """The Redis outages staged in the runs (from their events): run, label, down_t, up_t."""
    rows = []
    for (run, label), events in runs.events.groupby(["run", "label"], sort=False):
        down = events[events["what"] == REDIS_STOPPED]["t"]
        up = events[events["what"] == REDIS_STARTED]["t"]
        if len(down) and len(up):
            rows.append({"run": run, "label": label, "down_t": float(down.iloc[0]), "up_t": float(up.iloc[0])})
    return pd.DataFrame(rows, columns=["run", "label", "down_t", "up_t"])


def redis_outage(
    *,
    workers: int = 2,
    seconds: float = 30,
    down_at: float = 8,
    down_for: float = 6,
    users: int | None = None,
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
) -> Runs:
    """Run the chat scenario on ``pubsub`` and stop its Redis ``down_at`` s into the load for ``down_for`` s.

    The Redis is one the kit starts (it must be able to stop it), so REDIS_URL is not used.
    The outage's start and end, on the run's clock, are the run's events (``outages`` reads them).
    """
    spec = run_specs(["pubsub"], workers, None, "chat", seconds, users)[0]
    root = Path(out) if out else new_results_dir("outage")
    root.mkdir(parents=True, exist_ok=True)
    first = len(stored_summaries(root)) + 1
    run_id = f"{first:02d}-{spec.slug}-outage"
    with redis_server(progress=progress) as store:
        if not store.owned:
            raise RuntimeError("redis_outage needs a Redis it can stop: unset REDIS_URL")
        if progress is not None:
            print(f"[{first}] {spec.label}: chat, Redis down from {down_at:g} s for {down_for:g} s", file=progress)
        outage = _redis_down(store, down_at, down_for)
        row = run_one(
            spec,
            root / run_id,
            run_id,
            machine_info(),
            progress,
            {env.REDIS_URL: store.url},
            during=outage,
            redis=store.info(),
        )
    write_summary(root)
    if progress is not None:
        # Locust's failures here are lost deliveries and failed handshakes, not failed requests.
        print(
            f"      {row['requests']} deliveries and handshakes judged, {row['failures']} lost or failed", file=progress
        )
    return load_runs(root)


def _redis_down(store: RedisServer, down_at: float, down_for: float) -> During:
    """The callback for ``run_one``: stop the Redis at ``down_at`` on the run's clock, start it ``down_for`` s later."""

    def outage(run: LiveRun) -> None:
        if not run.wait_until(down_at):
            return
        run.record(REDIS_STOPPED)
        store.stop()
        if run.wait_until(run.clock() + down_for):
            store.start()
            run.record(REDIS_STARTED)

    return outage
