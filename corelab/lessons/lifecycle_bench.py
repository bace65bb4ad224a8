"""Benchmarks for the cluster's lifecycle (issue 3), each printed with its target.

    python -m corelab lifecycle rolling      # rolling restart under CPU load: 0 failed of >= 3,000
    python -m corelab lifecycle respawn      # SIGKILL -> replacement serving: median <= 0.5 s
    python -m corelab lifecycle balance      # rr, >= 20 keep-alive connections: max/min <= 1.10
    python -m corelab lifecycle throughput   # servers.cluster / gunicorn, CPU scenario: >= 0.97
    python -m corelab lifecycle burst        # 20 bursts of 20 keep-alive clients per policy:
                                             # the default leaves no worker idle, >= 1.8x one process
    python -m corelab lifecycle all

Run them one at a time on a shared machine (each takes one to three minutes), e.g. under
``flock /tmp/corelab-cpu.lock``. Results land in results/lifecycle-bench-<time>/.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from corelab.lessons.burst import burst as run_bursts
from corelab.lessons.lifecycle import respawn_times, restart_under_load
from corelab.results import machine_info, new_results_dir
from corelab.run import bench


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


def burst(root: Path, trials: int, clients: int, seconds: float) -> dict:
    """Bursts of simultaneous keep-alive clients against every policy, gunicorn and one process."""
    result = run_bursts(trials=trials, clients=clients, seconds=seconds, out=root / "burst")
    print(result.table())
    print(result.sentence())
    default = result.figures[result.default_policy]
    noisy = sum(f.noisy_trials for f in result.figures.values())
    if noisy:
        print(
            f"warning: {noisy} bursts ran while other processes used more than a quarter of a core; "
            "their throughput measured the machine: run again on a quiet one"
        )
    ratio = default.min_ratio if default.min_ratio is not None else 0.0
    print(
        f"default policy ({default.target}): {default.idle_trials} of {default.trials} bursts left a worker idle "
        f"(target 0); cluster/single at worst {ratio:.2f}x (target >= 1.8)"
    )
    return {
        "clients": clients,
        "seconds": seconds,
        "default_policy": default.target,
        "targets": {name: vars(f) for name, f in result.figures.items()},
        "target": "default policy: 0 idle trials, cluster/single min ratio >= 1.8",
        "met": default.idle_trials == 0 and ratio >= 1.8,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab lifecycle``'s options."""
    parser.add_argument("which", choices=("rolling", "respawn", "balance", "throughput", "burst", "all"))
    parser.add_argument("--seconds", type=float, default=None, help="seconds of load per run (default: per benchmark)")
    parser.add_argument("--kills", type=int, default=6, help="respawn: workers to SIGKILL")
    parser.add_argument("--repeats", type=int, default=2, help="throughput: runs of each variant")
    parser.add_argument("--trials", type=int, default=20, help="burst: bursts per policy")
    parser.add_argument("--clients", type=int, default=20, help="burst: keep-alive clients connecting at once")


def run_command(args: argparse.Namespace) -> int:
    """The chosen benchmarks, one after the other; exit 1 when one misses its target."""
    if args.trials < 1 or args.clients < 1:
        raise ValueError("--trials and --clients must be at least 1")
    root = new_results_dir("lifecycle-bench")
    root.mkdir(parents=True, exist_ok=True)
    chosen = ("rolling", "respawn", "balance", "throughput", "burst") if args.which == "all" else (args.which,)
    figures: dict[str, dict] = {}
    for name in chosen:
        if name == "rolling":
            figures[name] = rolling(root, args.seconds or 30)
        elif name == "respawn":
            figures[name] = respawn(root, args.kills)
        elif name == "balance":
            figures[name] = balance(root, args.seconds or 20)
        elif name == "burst":
            figures[name] = burst(root, args.trials, args.clients, args.seconds or 3)
        else:
            figures[name] = throughput(root, args.seconds or 20, args.repeats)
        print(f"{name}: {json.dumps(figures[name])}", flush=True)
    figures["machine"] = machine_info()
    (root / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {root / 'figures.json'}")
    return 0 if all(f.get("met", True) for f in figures.values()) else 1
