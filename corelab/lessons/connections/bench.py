"""Benchmarks of how connections reach the workers, each printed with its target (``python -m corelab lifecycle``).

- ``balance``: rr with >= 20 keep-alive connections: requests max/min <= 1.10;
- ``burst``: bursts of keep-alive clients per policy: the default leaves no worker idle, >= 1.8x one process.
"""

from __future__ import annotations

import json
from pathlib import Path

from corelab.harness.run import bench
from corelab.lessons.connections.burst_result import noisy_above
from corelab.lessons.connections.bursts import burst as run_bursts


def balance(root: Path, seconds: float) -> dict:
    runs = bench(["cluster"], policies=["rr"], scenario="keepalive", users=20, seconds=seconds, out=root / "balance")
    row = runs.summary.iloc[-1]
    connections = json.loads((runs.root / row["run"] / "worker_connections.json").read_text())
    return {
        "rr_keepalive_connections": sum(connections.values()),
        "rr_connections_per_worker": sorted(connections.values()),
        "rr_requests_max_min": float(row["worker_max_min"]),
        "target": "max/min <= 1.10",
        "met": float(row["worker_max_min"]) <= 1.10,
    }


def burst(root: Path, trials: int, clients: int | None, seconds: float) -> dict:
    """Bursts of simultaneous keep-alive clients against every policy, gunicorn and one process; the
    target for the worst trial is 90% of the workers' count times one process (1.8x on 2 cores)."""
    result = run_bursts(trials=trials, clients=clients, seconds=seconds, out=root / "burst")
    print(result.table())
    print(result.sentence())
    default = result.figures[result.default_policy]
    noisy = sum(f.noisy_trials for f in result.figures.values())
    if noisy:
        print(
            f"warning: {noisy} bursts ran while other processes used more than "
            f"{noisy_above(default.workers) / 100:.2f} of a core; their throughput measured the machine: "
            "run again on a quiet one"
        )
    ratio = default.min_ratio if default.min_ratio is not None else 0.0
    floor = round(0.9 * default.workers, 2)
    print(
        f"default policy ({default.target}): {default.idle_trials} of {default.trials} bursts left a worker idle "
        f"(target 0); cluster/single at worst {ratio:.2f}x (target >= {floor:g})"
    )
    return {
        "clients": result.clients,
        "seconds": seconds,
        "default_policy": default.target,
        "targets": {name: vars(f) for name, f in result.figures.items()},
        "target": f"default policy: 0 idle trials, cluster/single min ratio >= {floor:g} (0.9 x workers)",
        "met": default.idle_trials == 0 and ratio >= floor,
    }
