"""Each section of notebook 13 as a claim: the same measure for Python and Node in this run, and
which runtime did better (``Row``, ``Beside``), from the section's own result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corelab.claim import Claim
from corelab.harness.results import Runs
from corelab.lessons.chat.claims import VariantChat, chat_outcome
from corelab.lessons.connections.burst_result import BurstResult
from corelab.lessons.connections.primary_cost import PrimaryCostResult
from corelab.lessons.connections.primary_cost_run import NODE_LABEL
from corelab.lessons.one_process.blocked_loop import probe_table
from corelab.lessons.restarts.under_load import RestartRuns


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
            f"{self.what}: Python ({self.python_is}) {number(self.python)}, Node ({self.node_is}) {number(self.node)} "
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

    def value(self, key: str, runtime: str) -> float | None:
        """The row ``key``'s number for ``runtime`` ("python" or "node")."""
        row = next(r for r in self.rows if r.key == key)
        return row.python if runtime == "python" else row.node


def number(value: float | None) -> str:
    """A table's number as a sentence says it: whole above 100, else up to two decimals."""
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
