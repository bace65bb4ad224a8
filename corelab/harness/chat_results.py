"""The chat scenario's results: delivery ratio and latency, handshakes, and deliveries over time.

loadtests/chat.py reports every (message, recipient) as a Locust request named
``delivered (same worker)`` or ``delivered (other worker)``: a success carries the delivery
latency, a failure is a lost message. Socket.IO handshakes are ``socketio connect`` requests.
These functions turn a run folder's Locust CSVs into tidy tables::

    runs = bench(["sticky", "pubsub"], scenario="chat", redis=True)
    delivery(runs)          # run, label, recipients, expected, delivered, lost, ratio, p50_ms ... p99_9_ms
    handshakes(runs)        # run, label, attempts, failed, failed_ratio
    delivery_history(runs)  # run, label, t, recipients, delivered, lost: second by second

The chat lesson (notebooks 10, 11) and the fleet lesson (12) both read chat runs through these.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from corelab.harness.results import Runs

DELIVERY_NAMES = {"delivered (same worker)": "same worker", "delivered (other worker)": "other worker"}
CONNECT_NAME = "socketio connect"
PERCENTILES = {"50%": "p50_ms", "90%": "p90_ms", "99%": "p99_ms", "99.9%": "p99_9_ms"}
# loadtests/chat.py judges a message lost this many seconds after it was sent (CORELAB_LOST_AFTER).
LOST_AFTER_S = 3.0


def _stats(runs: Runs) -> pd.DataFrame:
    frames = []
    for row in runs.summary.itertuples():
        stats = pd.read_csv(Path(runs.root) / row.run / "locust_stats.csv")
        frames.append(stats.assign(run=row.run, label=row.label))
    return pd.concat(frames, ignore_index=True)


def delivery(runs: Runs) -> pd.DataFrame:
    """Per run: messages owed to recipients on the sender's worker, on another, and in all;
    how many arrived, the ratio, and the delivery latency percentiles of those that did."""
    stats = _stats(runs)
    rows = []
    for (run, label), data in stats.groupby(["run", "label"], sort=False):
        parts = data[data["Name"].isin(DELIVERY_NAMES)]
        for name, recipients in [*DELIVERY_NAMES.items(), ("all", "all")]:
            part = parts if name == "all" else parts[parts["Name"] == name]
            expected = int(part["Request Count"].sum())
            lost = int(part["Failure Count"].sum())
            row = {
                "run": run,
                "label": label,
                "recipients": recipients,
                "expected": expected,
                "delivered": expected - lost,
                "lost": lost,
                "ratio": (expected - lost) / expected if expected else float("nan"),
            }
            if name != "all" and len(part) and expected > lost:
                row.update({col: float(part[pct].iloc[0]) for pct, col in PERCENTILES.items()})
            rows.append(row)
    table = pd.DataFrame(rows)
    for col in PERCENTILES.values():
        if col not in table:
            table[col] = float("nan")
    return table


def handshakes(runs: Runs) -> pd.DataFrame:
    """Per run: Socket.IO connection attempts, how many failed, and the failed share."""
    stats = _stats(runs)
    rows = []
    for (run, label), data in stats.groupby(["run", "label"], sort=False):
        part = data[data["Name"] == CONNECT_NAME]
        attempts = int(part["Request Count"].sum())
        failed = int(part["Failure Count"].sum())
        rows.append(
            {
                "run": run,
                "label": label,
                "attempts": attempts,
                "failed": failed,
                "failed_ratio": failed / attempts if attempts else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def delivery_history(runs: Runs) -> pd.DataFrame:
    """Per run and second: deliveries and losses, by recipients (same / other worker).

    A loss is counted when it is judged, LOST_AFTER_S after its message was sent; ``t`` puts it
    back at the second the message was sent, so an outage's losses line up with the outage.
    """
    frames = []
    for row in runs.summary.itertuples():
        run_dir = Path(runs.root) / row.run
        meta = json.loads((run_dir / "meta.json").read_text())
        lost_after = float(meta.get("params", {}).get("lost_after", LOST_AFTER_S))
        raw = pd.read_csv(run_dir / "locust_stats_history.csv")
        for name, recipients in DELIVERY_NAMES.items():
            part = raw[raw["Name"] == name].sort_values("Timestamp")
            if part.empty:
                continue
            total = part["Total Request Count"].diff().fillna(part["Total Request Count"])
            lost = part["Total Failure Count"].diff().fillna(part["Total Failure Count"])
            t = part["Timestamp"] - meta["sampler_started_at"]
            common = {"run": row.run, "label": row.label, "recipients": recipients}
            frames.append(pd.DataFrame({**common, "t": t, "delivered": total - lost, "lost": 0.0}))
            frames.append(pd.DataFrame({**common, "t": t - lost_after, "delivered": 0.0, "lost": lost}))
    columns = ["run", "label", "t", "recipients", "delivered", "lost"]
    if not frames:
        return pd.DataFrame(columns=columns)
    history = pd.concat(frames, ignore_index=True)
    return (
        history.groupby(["run", "label", "recipients", "t"], as_index=False, sort=False)[["delivered", "lost"]]
        .sum()[columns]
        .sort_values(["run", "recipients", "t"], ignore_index=True)
    )
