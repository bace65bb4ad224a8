"""The same lessons with the articles' Node code beside the Python port (notebook 13, and
``python -m corelab node-vs-python``): each section runs a lesson's own measurement with the Node
variants (servers/node) as more targets, under the same Locust scenario, sampler and figures.

- ``throughput``: one process and the cluster at 10 ms of CPU per request (the ``cpu`` scenario);
- ``bursts``: bursts of simultaneous clients, how often one left a worker idle: the kit's rr and
  shared socket, Node's rr and none (connections.burst);
- ``primary``: the primary's CPU per connection, the kit's rr and Node's (connections);
- ``restarts``: failed requests across two restarts under load: the kit's naive and rolling
  restarts, the articles' rolling restart (cluster.js), ``pm2 reload`` (restarts);
- ``blocked``: the /health probe's p99 while 50 ms burns run on the loop, then offloaded: a
  process pool in Python, a worker_threads pool in Node (one_process);
- ``chat``: Socket.IO across workers without sticky sessions, and with sticky + the Redis adapter.

``comparison`` reads every section's result into one table (``NodeVsPython``) and checks the
articles' measurable claims against it. This module sits above the lessons, as corelab.cli does:
it composes them, and no lesson imports it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from corelab.claim import Claim
from corelab.harness.quick import pick
from corelab.harness.results import Runs, new_results_dir
from corelab.harness.run import bench
from corelab.lessons.chat.claims import VariantChat, chat_outcome
from corelab.lessons.connections.burst_result import BurstResult
from corelab.lessons.connections.bursts import Target, burst, node_targets
from corelab.lessons.connections.primary_cost import PrimaryCostResult
from corelab.lessons.connections.primary_cost_bench import measure_primary_cost
from corelab.lessons.connections.primary_cost_run import NODE_LABEL, PrimaryCostConfig
from corelab.lessons.one_process.blocked_loop import probe_table, run_blocked_loop
from corelab.lessons.restarts.under_load import RestartRuns, restart_under_load
from plumbing.cores import usable_core_count
from plumbing.node import node_or_none

RESTART_KINDS = ("naive", "rolling", "node-rolling", "pm2-reload")
CHAT_VARIANTS = ("cluster", "pubsub", "node-cluster", "node-sticky")


def runtime_line() -> str:
    """Which Python and which Node this comparison runs, for the notebook's first cell."""
    node = node_or_none()
    return f"Python {sys.version.split()[0]} beside {node.describe() if node else 'no Node (the Node runs fail)'}"


# -- the sections: each one lesson's measurement with Node beside Python ---------------------------


def throughput(*, seconds: float | None = None, out: str | Path | None = None) -> Runs:
    """One process and the cluster (one worker per usable core), Python then Node, 10 ms of CPU each."""
    return bench(
        ["single", "node-single", "cluster", "node-cluster"], scenario="cpu", seconds=seconds or pick(15, 6), out=out
    )


def bursts(*, trials: int | None = None, out: str | Path | None = None) -> BurstResult:
    """The kit's rr and shared socket, then Node's rr and none: how often a burst left a worker idle."""
    kit = [Target("rr", "cluster", "rr"), Target("shared", "cluster", "shared")]
    return burst([*kit, *node_targets()], trials=trials or pick(20, 6), seconds=pick(3, 2), out=out)


def primary(*, seconds: float | None = None, out: str | Path | None = None) -> PrimaryCostResult:
    """The primary's CPU per connection: the kit's rr primary, then Node's cluster primary."""
    config = PrimaryCostConfig(policies=("rr",), seconds=seconds or pick(10, 5))
    return measure_primary_cost(config, out=out)


def restarts(*, seconds: float | None = None, out: str | Path | None = None) -> RestartRuns:
    """Two restarts under load per kind (a third and two thirds of the way): failed requests counted."""
    length = seconds or pick(24, 12)
    return restart_under_load(RESTART_KINDS, seconds=length, at=(length / 3, 2 * length / 3), out=out)


def blocked(*, seconds: float | None = None, out: str | Path | None = None) -> Runs:
    """50 ms burns beside a /health probe: on the loop, then off it (Python: process pool; Node: worker_threads)."""
    root = Path(out) if out else new_results_dir("blocked-node")
    length = seconds or pick(12, 6)
    run_blocked_loop(("none", "process"), variant="single", seconds=length, out=root)
    return run_blocked_loop(("none", "thread"), variant="node-single", seconds=length, out=root)


def chat(*, seconds: float | None = None, out: str | Path | None = None) -> Runs:
    """The chat across workers: without sticky sessions, and with sticky + the Redis adapter, each runtime."""
    return bench(CHAT_VARIANTS, scenario="chat", seconds=seconds or pick(15, 8), redis=True, out=out)


# -- each section's numbers side by side, and the whole table ----------------------------------------


@dataclass(frozen=True)
class Row:
    key: str  # the claim's field names: <key>_python, <key>_node
    what: str
    python: float | None
    node: float | None
    unit: str
    python_is: str  # which Python variant the number is from
    node_is: str
    higher_is_better: bool = False

    def verdict(self) -> str:
        """Which runtime did better here, and by how much, in words."""
        if self.python is None or self.node is None:
            return "not measured for both"
        if self.python == self.node:
            return "the same"
        node_better = (self.node > self.python) == self.higher_is_better
        best, worst = (self.node, self.python) if node_better else (self.python, self.node)
        who = "Node" if node_better else "Python"
        if min(best, worst) > 0:
            factor = max(best, worst) / min(best, worst)
            if factor < 1.05:
                return "about the same (within 5%)"
            return f"{who} better, {factor:.2f}x" if factor < 1.995 else f"{who} better, {factor:.1f}x"
        return f"{who} better"

    def line(self) -> str:
        return (
            f"{self.what}: Python ({self.python_is}) {_num(self.python)}, Node ({self.node_is}) {_num(self.node)} "
            f"{self.unit}: {self.verdict()}"
        )


@dataclass
class Beside(Claim):
    """One section of notebook 13: the same measure for Python and Node, in this run, and who did better."""

    section: str
    rows: list[Row]
    notes: list[str] = field(default_factory=list)  # e.g. a run the load generator limited

    def fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {"section": self.section}
        for row in self.rows:
            out[f"{row.key}_python"], out[f"{row.key}_node"] = row.python, row.node
        return out

    def sentence(self) -> str:
        return "\n".join([*(row.line() for row in self.rows), *self.notes])


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}".rstrip("0").rstrip(".")


def _rps(runs: Runs, variant: str) -> float | None:
    rows = runs.summary[runs.summary["variant"] == variant]
    return round(float(rows["rps"].iloc[0]), 1) if len(rows) else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def beside_throughput(runs: Runs) -> Beside:
    py_one, node_one = _rps(runs, "single"), _rps(runs, "node-single")
    py_many, node_many = _rps(runs, "cluster"), _rps(runs, "node-cluster")
    workers = int(runs.summary["workers"].max())
    notes = [
        f"{r.label} was generator-bound (a Locust process at {r.generator_max_cpu_pct:.0f}% of a core): its req/s "
        "is the load generator's limit, not the server's"
        for r in runs.summary.itertuples()
        if r.generator_bound
    ]
    return Beside(
        "throughput",
        [
            Row(
                "single_rps",
                "one process, 10 ms of CPU per request",
                py_one,
                node_one,
                "req/s",
                "single",
                "node-single",
                True,
            ),
            Row("cluster_rps", f"a cluster of {workers}", py_many, node_many, "req/s", "cluster", "node-cluster", True),
            Row(
                "cluster_ratio",
                f"cluster of {workers} / one process",
                _ratio(py_many, py_one),
                _ratio(node_many, node_one),
                "x",
                "cluster",
                "node-cluster",
                True,
            ),
        ],
        notes,
    )


def beside_bursts(result: BurstResult) -> Beside:
    idle = {name: fig.idle_trials for name, fig in result.figures.items()}
    trials = max(fig.trials for fig in result.figures.values())
    return Beside(
        "bursts",
        [
            Row(
                "rr_idle_bursts",
                f"bursts of {result.clients} leaving a worker idle, round-robin (of {trials})",
                idle.get("rr"),
                idle.get("node-rr"),
                "bursts",
                "cluster rr",
                "cluster.js rr",
            ),
            Row(
                "kernel_idle_bursts",
                f"the same, the kernel's choice (of {trials})",
                idle.get("shared"),
                idle.get("node-none"),
                "bursts",
                "cluster shared",
                "cluster.js none",
            ),
        ],
    )


def beside_primary(cost: PrimaryCostResult) -> Beside:
    py, node = cost.get("rr"), cost.get(NODE_LABEL)
    return Beside(
        "primary",
        [
            Row(
                "primary_us_per_connection",
                "the primary's CPU per connection",
                round(py.us_per_connection, 1),
                round(node.us_per_connection, 1),
                "µs",
                "cluster rr",
                "cluster.js rr",
            ),
            Row(
                "primary_connections_per_s",
                "connections served",
                round(py.connections_per_s),
                round(node.connections_per_s),
                "/s",
                "cluster rr",
                "cluster.js rr",
                True,
            ),
        ],
        [f"every run here is generator-bound by design: {cost.sentence().splitlines()[-1]}"],
    )


def _failed(restart: RestartRuns) -> dict[str, int]:
    return dict(zip(restart.summary["kind"], restart.summary["failures"], strict=True))


def beside_restarts(restart: RestartRuns) -> Beside:
    failed = _failed(restart)
    requests = dict(zip(restart.summary["kind"], restart.summary["requests"], strict=True))
    total = sum(requests.values()) // max(1, len(requests))
    return Beside(
        "restarts",
        [
            Row("rolling_failed", "failed requests across two one-at-a-time restarts", failed.get("rolling"),
                failed.get("node-rolling"), "requests", "cluster --restart rolling", "cluster.js"),
            Row("pm2_reload_failed", "the same, by the process manager", None, failed.get("pm2-reload"), "requests",
                "-", "pm2 reload"),
            Row("naive_failed", "the same, stopping every worker then starting them", failed.get("naive"), None,
                "requests", "cluster --restart naive", "-"),
        ],
        [f"each run served about {total:,} requests; a naive restart is the kit's only, to show what the others avoid"],
    )  # fmt: skip


def _probes(loop: Runs) -> dict[tuple[str, str], float]:
    table = probe_table(loop).reset_index()
    variants = dict(zip(loop.summary["label"], loop.summary["variant"], strict=True))
    return {(variants[r.label], r.offload): round(float(r.probe_p99_ms), 1) for r in table.itertuples()}


def beside_blocked(loop: Runs) -> Beside:
    probes = _probes(loop)
    return Beside(
        "blocked",
        [
            Row(
                "probe_p99_on_loop_ms",
                "/health p99, 50 ms burns on the event loop",
                probes.get(("single", "none")),
                probes.get(("node-single", "none")),
                "ms",
                "single",
                "node-single",
            ),
            Row(
                "probe_p99_offloaded_ms",
                "/health p99, the burns offloaded",
                probes.get(("single", "process")),
                probes.get(("node-single", "thread")),
                "ms",
                "process pool",
                "worker_threads pool",
            ),
        ],
    )


def _delivery(run: VariantChat | None) -> float | None:
    if run is None or not run.other_worker_owed:
        return None
    return round(100 * run.other_worker_delivered / run.other_worker_owed, 1)


def _failed_handshakes(run: VariantChat | None) -> float | None:
    if run is None or not run.handshakes:
        return None
    return round(100 * run.handshakes_failed / run.handshakes, 1)


def beside_chat(talk: Runs) -> Beside:
    runs = {v.variant: v for v in chat_outcome(talk).variants}
    return Beside(
        "chat",
        [
            Row(
                "handshakes_failed_pct",
                "handshakes failed without sticky sessions",
                _failed_handshakes(runs.get("cluster")),
                _failed_handshakes(runs.get("node-cluster")),
                "%",
                "cluster",
                "node-cluster",
            ),
            Row(
                "delivered_pct",
                "messages delivered across workers, sticky + Redis adapter",
                _delivery(runs.get("pubsub")),
                _delivery(runs.get("node-sticky")),
                "%",
                "pubsub",
                "node-sticky",
                True,
            ),
        ],
    )


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
    """Every section's result as one table, and each measurable claim of the articles checked against it."""
    cores = usable_core_count()
    workers = int(runs.summary["workers"].max())
    node_ratio = _ratio(_rps(runs, "node-cluster"), _rps(runs, "node-single"))
    idle = {name: fig.idle_trials for name, fig in burst_result.figures.items()}
    trials = max(fig.trials for fig in burst_result.figures.values())
    failed = _failed(restart)
    # "Each process on its own core": the cluster should near one process's rate times the cores it
    # had. Locust shares the machine, so 70% of that ideal counts as borne out.
    ideal = min(workers, cores)
    pm2_pids = _served_by(restart, "pm2-reload")
    pm2_workers = int(restart.runs.summary["workers"].max())
    claims = [
        ArticleClaim(
            "round_robin",
            "load balancing is round-robin on Linux (Node's default scheduling)",
            idle.get("node-rr", 1) == 0,
            f"with rr, {idle.get('node-rr')} of {trials} bursts left a worker idle; with none (the kernel's "
            f"choice), {idle.get('node-none')} of {trials}",
        ),
        ArticleClaim(
            "core_each",
            "each process runs on a separate CPU core, so the cluster scales with the cores",
            node_ratio is not None and node_ratio >= 0.7 * ideal,
            f"Node's cluster served {_num(node_ratio)}x one process's req/s with {workers} workers on {cores} "
            f"cores (ideal {ideal}x; the load generator shares the cores)",
        ),
        ArticleClaim(
            "rolling_no_downtime",
            "restart workers one at a time and there is no downtime",
            failed.get("node-rolling") == 0,
            f"{failed.get('node-rolling')} requests failed across two rolling restarts of cluster.js",
        ),
        ArticleClaim(
            "pm2_zero_downtime",
            "PM2 cluster mode: a zero-config production cluster with zero-downtime reloads",
            failed.get("pm2-reload") == 0 and len(pm2_pids) >= 2 * pm2_workers,
            f"pm2-runtime served from {len(pm2_pids)} worker pids in turn ({pm2_workers} at a time), and "
            f"{failed.get('pm2-reload')} requests failed across two `pm2 reload`s",
        ),
    ]
    sections = [
        beside_throughput(runs),
        beside_bursts(burst_result),
        beside_primary(cost),
        beside_restarts(restart),
        beside_blocked(loop),
        beside_chat(talk),
    ]
    node = node_or_none()
    return NodeVsPython(sections, claims, cores, node.describe() if node else "no Node")


def _served_by(restart: RestartRuns, kind: str) -> list[int]:
    runs = restart.summary[restart.summary["kind"] == kind]["run"]
    timeline = restart.timeline[restart.timeline["run"].isin(runs)]
    return sorted(int(p) for p in timeline["pid"].unique())


# -- python -m corelab node-vs-python ---------------------------------------------------------------

SECTIONS: dict[str, Callable[..., Any]] = {
    "throughput": throughput,
    "bursts": bursts,
    "primary": primary,
    "restarts": restarts,
    "blocked": blocked,
    "chat": chat,
}


def measure_all(root: Path, progress: TextIO | None = sys.stdout) -> NodeVsPython:
    """Every section in turn, each into its own folder under ``root``, then the comparison."""
    results = {}
    for i, (name, section) in enumerate(SECTIONS.items(), start=1):
        if progress:
            print(f"== {i}/{len(SECTIONS)} {name}", file=progress, flush=True)
        results[name] = section(out=root / name)
    return comparison(*results.values())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="folder for the results (default: results/node-vs-python-<time>)")


def run_command(args: argparse.Namespace) -> int:
    root = Path(args.out) if args.out else new_results_dir("node-vs-python")
    result = measure_all(root)
    print()
    print(result.table.to_string(index=False, na_rep="-"))
    print()
    print(result.sentence())
    print(f"results in {root}")
    return 0
