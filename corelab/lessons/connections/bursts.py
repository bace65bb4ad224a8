"""A burst of keep-alive clients that all connect at the same moment: does every worker get some?

For each cluster policy (``shared``, ``shared-one`` where the cluster has it, ``reuseport``,
``rr``), for gunicorn, and for one process as the baseline: K trials of N keep-alive clients
(``loadtests/burst.py``, Locust with ``-u N -r N``: every user starts at once), each trial a few
seconds of closed-loop ``GET /work?ms=10``. Per trial: connections and responses per worker pid,
throughput, and Locust's own CPU.

How the trials are made honest and fast: the server starts once per policy (and is checked to
serve from every worker first); each trial is a new Locust process, so every burst opens fresh
connections, while the workers sit idle in ``accept`` between trials, as they do before a class
starts its load. Starting Locust costs about 1.5 s of one core, before any connection is made.

Every trial is stored: results/burst-<time>/<NN-target>/trial-<KK>/ (Locust's CSVs and log,
responses and connections per worker), with trials.csv, workers.csv and meta.json at the top;
``load_burst`` reads a folder back into the same result.
"""

from __future__ import annotations

import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from corelab.harness.results import machine_info, new_results_dir, write_json
from corelab.harness.variants import get_variant
from corelab.lessons.connections.burst_result import (
    BASELINE,
    NOISY_OTHER_CPU_PCT,
    BurstResult,
    TargetFigures,
    figures_from,
)
from corelab.lessons.connections.burst_trials import SCENARIO, run_trials, serving_workers
from plumbing.cores import usable_core_count
from plumbing.procs import ManagedProcess, free_port, wait_until_serving

# What notebooks, plots and tests import from here; the result lives in burst_result, the trials in burst_trials.
__all__ = [
    "BASELINE", "BURST_POLICIES", "NOISY_OTHER_CPU_PCT", "SCENARIO", "BurstResult", "Target", "TargetFigures",
    "burst", "cluster_policies", "default_targets", "figures_from", "load_burst", "run_trials", "serving_workers",
]  # fmt: skip

# The policies a burst is measured for, in this order, when the cluster has them ("sticky" is rr
# for Socket.IO sessions: nothing new to learn here).
BURST_POLICIES = ("rr", "shared", "shared-one", "reuseport")


@dataclass(frozen=True)
class Target:
    """What one series of bursts is aimed at: a variant, and the cluster's policy when it has one."""

    name: str  # "rr", "shared", ..., "gunicorn", "single"
    variant: str
    policy: str | None

    @property
    def label(self) -> str:
        if self.variant == "cluster":
            return f"cluster ({self.policy})"
        if self.variant == "node-cluster":
            # Node's NODE_CLUSTER_SCHED_POLICY: rr from the primary, or none (the kernel picks).
            return f"Node cluster ({self.policy})"
        return "gunicorn (shared socket)" if self.variant == "gunicorn" else "one process"


def cluster_policies() -> tuple[str, ...]:
    """The cluster's policies that a burst tells something about, default first."""
    variant = get_variant("cluster")
    known = set(variant.policies)
    try:  # the cluster's own registry: a policy added there is measured without a change here
        from servers.cluster.config import POLICIES

        known |= set(POLICIES)
    except ImportError:
        pass
    default = variant.policies[0]
    return (default, *(p for p in BURST_POLICIES if p in known and p != default))


def node_targets() -> list[Target]:
    """The articles' Node cluster under both of its scheduling policies (servers/node/cluster.js)."""
    return [Target(f"node-{p}", "node-cluster", p) for p in get_variant("node-cluster").policies]


def default_targets() -> list[Target]:
    return [
        *(Target(p, "cluster", p) for p in cluster_policies()),
        Target("gunicorn", "gunicorn", None),
        Target(BASELINE, "single", None),
    ]


# -- measuring -----------------------------------------------------------------------------------

# Clients per worker in a burst: 20 on 2 cores, enough for an unlucky split to leave one idle
# and for rr to give each worker the same count.
CLIENTS_PER_WORKER = 10


def burst(
    targets: list[Target] | None = None,
    *,
    trials: int = 20,
    clients: int | None = None,
    seconds: float = 3,
    workers: int | None = None,
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
) -> BurstResult:
    """K bursts of ``clients`` simultaneous keep-alive clients against each target; see the module doc.
    ``workers`` defaults to one per usable core, ``clients`` to ``CLIENTS_PER_WORKER`` per worker."""
    targets = targets if targets is not None else default_targets()
    workers = workers or usable_core_count()
    clients = clients or CLIENTS_PER_WORKER * workers
    root = Path(out) if out else new_results_dir("burst")
    root.mkdir(parents=True, exist_ok=True)
    all_trials, all_workers = [], []
    for i, target in enumerate(targets, start=1):
        _say(progress, f"[{i}/{len(targets)}] {target.label}: {trials} bursts of {clients} clients, {seconds:g} s each")
        folder = root / f"{i:02d}-{target.name}"
        folder.mkdir(parents=True, exist_ok=True)
        n = workers if get_variant(target.variant).multi_worker else 1
        port = free_port()
        command = get_variant(target.variant).command(port, n, target.policy)
        with ManagedProcess(command, log_path=folder / "server.log") as server:
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{url}/health", server, ready_line=get_variant(target.variant).ready_line)
            pids = serving_workers(url, server.pid, n)
            per_trial, per_worker = run_trials(
                url, pids, trials=trials, clients=clients, seconds=seconds, root=folder, server_pid=server.pid
            )
        all_trials.append(per_trial.assign(target=target.name))
        all_workers.append(per_worker.assign(target=target.name))
        idle = f"{int(per_trial['idle'].sum())} of {trials} bursts left a worker idle; " if n > 1 else ""
        _say(
            progress,
            f"      {idle}req/s min {per_trial['rps'].min():.0f}, median {per_trial['rps'].median():.0f}; "
            f"Locust CPU at most {per_trial['locust_cpu_pct'].max():.0f}%",
        )
    trials_df = _with_ratio(pd.concat(all_trials, ignore_index=True))
    workers_df = pd.concat(all_workers, ignore_index=True)
    trials_df = trials_df[["target", *(c for c in trials_df.columns if c != "target")]]
    workers_df = workers_df[["target", *(c for c in workers_df.columns if c != "target")]]
    trials_df.to_csv(root / "trials.csv", index=False)
    workers_df.to_csv(root / "workers.csv", index=False)
    default = get_variant("cluster").policies[0]
    labels = {t.name: t.label for t in targets}
    result = BurstResult(
        root, clients, seconds, default, figures_from(trials_df, workers_df, labels), trials_df, workers_df
    )
    write_json(
        root / "meta.json",
        {
            "what": "burst",
            "scenario": SCENARIO.name,
            "clients": clients,
            "seconds": seconds,
            "trials": trials,
            "workers": workers,
            "default_policy": default,
            "targets": [{"name": t.name, "variant": t.variant, "policy": t.policy, "label": t.label} for t in targets],
            "machine": machine_info(),
            "figures": {k: vars(v) for k, v in result.figures.items()},
        },
    )
    return result


def load_burst(root: str | Path) -> BurstResult:
    """A stored burst run (trials.csv, workers.csv, meta.json) as a result object."""
    root = Path(root)
    meta = json.loads((root / "meta.json").read_text())
    trials = pd.read_csv(root / "trials.csv")
    workers = pd.read_csv(root / "workers.csv")
    labels = {t["name"]: t["label"] for t in meta["targets"]}
    return BurstResult(
        root,
        meta["clients"],
        meta["seconds"],
        meta["default_policy"],
        figures_from(trials, workers, labels),
        trials,
        workers,
    )


def _with_ratio(trials: pd.DataFrame) -> pd.DataFrame:
    """Each trial's throughput over one process's median, when one process was measured."""
    base = trials[trials["target"] == BASELINE]["rps"]
    median = statistics.median(base) if len(base) else float("nan")
    return trials.assign(ratio=(trials["rps"] / median).round(3))


def _say(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)
