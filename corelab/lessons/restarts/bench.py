"""Benchmarks of the cluster's restarts, each printed with its target (``python -m corelab lifecycle``).

- ``rolling``: two rolling restarts under the strict CPU scenario: 0 failed of >= 3,000;
- ``respawn``: SIGKILL a worker -> its replacement serving: median <= 0.5 s;
- ``throughput``: servers.cluster / gunicorn on the CPU scenario: >= 0.97.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from corelab.harness.run import bench
from corelab.lessons.restarts.under_load import respawn_times, restart_under_load


def rolling(root: Path, seconds: float) -> dict:
    """Two rolling restarts (at 1/3 and 2/3 of the run) under the strict CPU scenario; gunicorn's HUP alike."""
    runs = restart_under_load(
        ("rolling", "gunicorn"), scenario="cpu_no_retry", seconds=seconds, at=(seconds / 3, 2 * seconds / 3),
        out=root / "rolling",
    )  # fmt: skip
    rows = {r.kind: r for r in runs.summary.itertuples()}
    ours = rows["rolling"]
    return {
        "rolling_requests": int(ours.requests),
        "rolling_failed": int(ours.failures),
        "gunicorn_hup_requests": int(rows["gunicorn"].requests),
        "gunicorn_hup_failed": int(rows["gunicorn"].failures),
        "target": "0 failed of >= 3,000",
        "met": ours.failures == 0 and ours.requests >= 3000,
    }


def respawn(root: Path, kills: int) -> dict:
    table = respawn_times(kills=kills)
    table.to_csv(root / "respawn.csv", index=False)
    print(table.to_string(index=False))
    median = float(statistics.median(table["seconds"]))
    return {
        "respawn_median_s": round(median, 3),
        "respawn_s": table["seconds"].round(3).tolist(),
        "backoff_ms": table["backoff_ms"].tolist(),
        "target": "median <= 0.5 s",
        "met": median <= 0.5,
    }


def throughput(root: Path, seconds: float, repeats: int) -> dict:
    rps: dict[str, list[float]] = {"cluster": [], "gunicorn": []}
    for i in range(repeats):
        # Alternate the order so neither always runs on a warmer (or busier) machine.
        order = ["cluster", "gunicorn"] if i % 2 == 0 else ["gunicorn", "cluster"]
        runs = bench(order, workers=2, scenario="cpu", seconds=seconds, out=root / f"throughput-{i + 1}")
        for row in runs.summary.itertuples():
            rps[row.variant].append(float(row.rps))
    ratio = statistics.mean(rps["cluster"]) / statistics.mean(rps["gunicorn"])
    return {
        "cluster_rps": rps["cluster"],
        "gunicorn_rps": rps["gunicorn"],
        "ratio": round(ratio, 3),
        "target": "cluster / gunicorn >= 0.97",
        "met": ratio >= 0.97,
    }
