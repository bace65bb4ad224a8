"""What the shared_state scenario found: the rate limit as enforced, and the visit counter as read back.

loadtests/shared_state.py writes shared_state.json into each run's folder; these functions turn
those files into tables:

    runs = bench(["cluster"], policies=["rr"], scenario="shared_state",
                 params=[{"state": "memory"}, {"state": "redis"}], redis=True)
    shared_state_table(runs)    # one row per run
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from corelab.results import Runs

RESULT_FILE = "shared_state.json"

TABLE_COLUMNS = [
    "run", "label", "state", "workers", "limit", "window_s", "client_windows",
    "sent_per_window", "admitted_mean", "admitted_max", "times_limit",
    "visits_answered", "counter_min", "counter_max", "counter_error_pct", "redis_source",
]  # fmt: skip


def _read(runs: Runs) -> list[tuple[Any, dict]]:
    found = []
    for row in runs.summary.itertuples():
        path = Path(runs.root) / row.run / RESULT_FILE
        if path.exists():
            found.append((row, json.loads(path.read_text())))
    if not found:
        raise FileNotFoundError(f"no {RESULT_FILE} under {runs.root}: were these runs of the shared_state scenario?")
    return found


def counter_reads(runs: Runs) -> pd.DataFrame:
    """Each read of the visit counter at the end of a run: run, label, pid, visits, answered (the truth)."""
    rows = [
        {
            "run": row.run,
            "label": row.label,
            "pid": read["pid"],
            "visits": read["visits"],
            "answered": r["visits_answered"],
        }
        for row, r in _read(runs)
        for read in r["counter_reads"]
    ]
    return pd.DataFrame(rows, columns=["run", "label", "pid", "visits", "answered"])


def shared_state_table(runs: Runs) -> pd.DataFrame:
    """One row per run: the limit as configured and as enforced, and the counter against the truth.

    ``times_limit`` is the mean number of requests a client got through per full window, over
    the limit: 1.0 when the limit holds, about the number of workers when each counts alone.
    ``counter_error_pct`` is the worst read of the counter against the visits that were answered.
    """
    rows = []
    for row, result in _read(runs):
        windows = pd.DataFrame(result["windows"], columns=["client", "window", "sent", "admitted"])
        reads = [r["visits"] for r in result["counter_reads"]]
        truth = result["visits_answered"]
        worst = max(reads, key=lambda v: abs(v - truth)) if reads else float("nan")
        limit = result["rate_limit"]
        rows.append(
            {
                "run": row.run,
                "label": row.label,
                "state": _params(row).get("state", "memory"),
                "workers": row.workers,
                "limit": limit,
                "window_s": result["window_s"],
                "client_windows": len(windows),
                "sent_per_window": windows["sent"].mean(),
                "admitted_mean": windows["admitted"].mean(),
                "admitted_max": windows["admitted"].max(),
                "times_limit": windows["admitted"].mean() / limit,
                "visits_answered": truth,
                "counter_min": min(reads, default=None),
                "counter_max": max(reads, default=None),
                "counter_error_pct": 100.0 * (worst - truth) / truth if truth else float("nan"),
                "redis_source": result.get("redis_source"),
            }
        )
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _params(row: Any) -> dict[str, str]:
    text = getattr(row, "params", "") or ""
    return dict(p.split("=", 1) for p in str(text).split() if "=" in p)
