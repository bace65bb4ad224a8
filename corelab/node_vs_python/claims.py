"""Notebook 13's last claim: every section in one table, and the articles' measurable claims
checked against its rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from corelab.claim import Claim
from corelab.harness.results import Runs
from corelab.lessons.connections.burst_result import BurstResult
from corelab.lessons.connections.primary_cost import PrimaryCostResult
from corelab.lessons.restarts.under_load import RestartRuns
from corelab.node_vs_python.beside import (
    Beside,
    beside_blocked,
    beside_bursts,
    beside_chat,
    beside_primary,
    beside_restarts,
    beside_throughput,
    number,
)
from plumbing.cores import usable_core_count
from plumbing.node import node_or_none


@dataclass(frozen=True)
class ArticleClaim:
    key: str  # the claim's field: held_<key>
    says: str  # what the articles say, in substance
    held: bool
    because: str  # this run's numbers


@dataclass
class NodeVsPython(Claim):
    """Every section in one table, measured in one run each on this machine, and the articles' claims checked."""

    sections: list[Beside]
    claims: list[ArticleClaim]
    cores: int
    node: str

    @property
    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {"measure": r.what, "Python": r.python, "Node": r.node, "unit": r.unit, "better": r.verdict(),
                 "Python variant": r.python_is, "Node variant": r.node_is}
                for s in self.sections
                for r in s.rows
            ]
        )  # fmt: skip

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cores": self.cores, "node": self.node}
        for section in self.sections:
            out.update({k: v for k, v in section.fields().items() if k != "section"})
        out.update({f"held_{c.key}": c.held for c in self.claims})
        return out

    def sentence(self) -> str:
        lines = [f"The articles' claims on {self.cores} usable cores, {self.node}:"]
        lines += [f"  [{'held' if c.held else 'not here'}] {c.says}: {c.because}" for c in self.claims]
        return "\n".join(lines)


def comparison(
    runs: Runs, burst_result: BurstResult, cost: PrimaryCostResult, restart: RestartRuns, loop: Runs, talk: Runs
) -> NodeVsPython:
    """Every section's result as one table, and each measurable claim of the articles checked against its rows."""
    throughput, bursts, restarts = beside_throughput(runs), beside_bursts(burst_result), beside_restarts(restart)
    sections = [throughput, bursts, beside_primary(cost), restarts, beside_blocked(loop), beside_chat(talk)]
    cores = usable_core_count()
    workers = int(runs.summary["workers"].max())
    trials = max(fig.trials for fig in burst_result.figures.values())
    rr_idle, none_idle = bursts.value("rr_idle_bursts", "node"), bursts.value("kernel_idle_bursts", "node")
    node_ratio = throughput.value("cluster_ratio", "node")
    rolling_failed = restarts.value("rolling_failed", "node")
    reload_failed = restarts.value("pm2_reload_failed", "node")
    # "Each process on its own core": the cluster should near one process's rate times the cores it
    # had. Locust shares the machine, so 70% of that ideal counts as borne out.
    ideal = min(workers, cores)
    pm2_pids = _served_by(restart, "pm2-reload")
    pm2_workers = int(restart.runs.summary["workers"].max())
    claims = [
        ArticleClaim(
            "round_robin",
            "load balancing is round-robin on Linux (Node's default scheduling)",
            rr_idle == 0,
            f"with rr, {rr_idle} of {trials} bursts left a worker idle; with none (the kernel's choice), "
            f"{none_idle} of {trials}",
        ),
        ArticleClaim(
            "core_each",
            "each process runs on a separate CPU core, so the cluster scales with the cores",
            node_ratio is not None and node_ratio >= 0.7 * ideal,
            f"Node's cluster served {number(node_ratio)}x one process's req/s with {workers} workers on {cores} "
            f"cores (ideal {ideal}x; the load generator shares the cores)",
        ),
        ArticleClaim(
            "rolling_no_downtime",
            "restart workers one at a time and there is no downtime",
            rolling_failed == 0,
            f"{rolling_failed} requests failed across two rolling restarts of cluster.js",
        ),
        ArticleClaim(
            "pm2_zero_downtime",
            "PM2 cluster mode: a zero-config production cluster with zero-downtime reloads",
            reload_failed == 0 and len(pm2_pids) >= 2 * pm2_workers,
            f"pm2-runtime served from {len(pm2_pids)} worker pids in turn ({pm2_workers} at a time), and "
            f"{reload_failed} requests failed across two `pm2 reload`s",
        ),
    ]
    node = node_or_none()
    return NodeVsPython(sections, claims, cores, node.describe() if node else "no Node")


def _served_by(restart: RestartRuns, kind: str) -> list[int]:
    runs = restart.summary[restart.summary["kind"] == kind]["run"]
    timeline = restart.timeline[restart.timeline["run"].isin(runs)]
    return sorted(int(p) for p in timeline["pid"].unique())
