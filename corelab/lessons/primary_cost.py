"""The price of balance: the primary's CPU per connection, for each cluster policy and for Node's cluster.

With ``rr`` and ``sticky`` every connection passes through the cluster's primary: it accepts it
(sticky also peeks at the request line) and sends the socket to a worker over a Unix socket
(SCM_RIGHTS). With ``shared`` and ``reuseport`` the kernel hands connections straight to the
workers, and the primary does no work per connection. Node's cluster does what rr does.

Each run is the kit's one run (corelab.run.run_one, corelab.lessons.primary_cost_run): the
server (2 workers), one Locust process opening connections as fast as it can (GET /, a new
connection per request: loadtests/connection_per_request.py), and a ``during`` callback that
reads with psutil the primary's CPU time (corelab.lessons.primary_cpu), so the steady window's
edges fall on snapshots; Locust counts the connections served inside it. Per run:
connections/s, the primary's CPU in % of a core, microseconds of primary CPU per connection,
and CPU seconds per 1,000 connections.

    python -m corelab primary-cost [--policies shared rr ...] [--seconds 20] [--users 10] [--no-node]

Locust is the limit in these runs (its one process uses a whole core to open 1,300 to 2,000
connections a second on the 2-core VM), so the runs are marked generator-bound. That is fine
here: the figure is CPU per connection in the primary, not how many connections the cluster can
take. The figure is not a constant: one wake-up of the primary accepts every connection waiting,
so the faster they come, the less each costs (the table's wake-ups/s shows it).
Results land in results/primary-cost-<time>/ (runs, summary.csv, primary_cost.csv, a PNG).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import pandas as pd

from corelab.claim import Claim
from corelab.lessons.primary_cost_run import (
    NODE_LABEL,
    NODE_SCRIPT,
    SCENARIO,
    TABLE_COLUMNS,
    PrimaryCost,
    cluster_server,
    node_server,
    run_primary,
)
from corelab.quick import pick
from corelab.results import (
    machine_info,
    new_results_dir,
    write_json,
    write_summary,
)
from corelab.text_table import Column, text_table

# What notebooks, plots and tests import from here; one run is primary_cost_run, the CPU snapshots primary_cpu.
__all__ = [
    "NODE_LABEL", "NODE_SCRIPT", "SCENARIO", "PrimaryCost", "PrimaryCostConfig", "PrimaryCostResult",
    "cluster_policies", "load_primary_cost", "measure_primary_cost", "node_path", "run_primary_cost",
]  # fmt: skip

# Used only if neither the cluster's policy registry nor its config can be imported.
DEFAULT_POLICIES = ("shared", "reuseport", "rr", "sticky")
PLOT_ORDER = ("shared", "shared-one", "reuseport", "rr", "sticky")


def cluster_policies() -> tuple[str, ...]:
    """The cluster's policy names, from its one registry, or from its config where that has them."""
    # The registry (servers/cluster/policies) is where the names live once policies own their
    # modules; before that, servers/cluster/config.py held them. Whichever has them first wins.
    for module_name in ("servers.cluster.policies", "servers.cluster.config"):
        try:
            names = getattr(importlib.import_module(module_name), "POLICIES", None)
        except ImportError:
            continue
        if names:
            # Those whose primary does no work per connection first, those that hand over last (beside Node's).
            return tuple(sorted(names, key=lambda n: PLOT_ORDER.index(n) if n in PLOT_ORDER else len(PLOT_ORDER)))
    return DEFAULT_POLICIES


def node_path() -> str | None:
    return shutil.which("node")


@dataclass(frozen=True)
class PrimaryCostConfig:
    policies: tuple[str, ...] = field(default_factory=cluster_policies)
    workers: int = 2
    users: int = SCENARIO.users
    seconds: float = 20.0
    # After the users have started, this long before the window opens: connection pools and
    # caches settle, and the window sees the working pace only.
    warmup_s: float = 3.0
    node: bool = True


@dataclass
class PrimaryCostResult(Claim):
    """Each server's primary, measured under the same load: its CPU per connection."""

    runs: list[PrimaryCost]
    # Why Node's cluster was not measured (not on PATH, or not asked for); None when it was.
    node_skipped: str | None = None
    root: Path | None = None

    @property
    def table(self) -> pd.DataFrame:
        """One row per server: the primary's cost and the run's context, in the order they ran."""
        return pd.DataFrame([r.row() for r in self.runs], columns=TABLE_COLUMNS)

    def get(self, label: str) -> PrimaryCost:
        for run in self.runs:
            if run.label == label:
                return run
        raise KeyError(f"no run {label!r}: have {', '.join(r.label for r in self.runs)}")

    def sentence(self) -> str:
        """This run's claim in one line, with its numbers."""
        parts = [r.phrase() for r in self.runs]
        bound = ""
        if any(r.generator_bound for r in self.runs):
            bound = " (Locust-bound: a cost per connection, not a capacity)"
        node = f"; Node not measured: {self.node_skipped}" if self.node_skipped else ""
        return "The primary's CPU per connection: " + ", ".join(parts) + bound + node + "."

    def fields(self) -> dict[str, object]:
        """Per server (by label): microseconds of primary CPU per connection, its % of a core, the rate."""
        return {
            "servers": [r.label for r in self.runs],
            "us_per_connection": {r.label: round(r.us_per_connection, 2) for r in self.runs},
            "primary_cpu_pct": {r.label: round(r.primary_cpu_pct, 2) for r in self.runs},
            "connections_per_s": {r.label: round(r.connections_per_s, 1) for r in self.runs},
            "generator_bound": any(r.generator_bound for r in self.runs),
            "node_skipped": self.node_skipped,
        }

    def summary_table(self) -> str:
        columns = [
            Column("server", 12, left=True), Column("conn/s", 7, ".0f"), Column("primary CPU", 12, ".1f", "%"),
            Column("us/conn", 8, ".1f"), Column("CPU s/1000", 11, ".4f"), Column("wake-ups/s", 10, ".0f"),
            Column("workers CPU", 12, ".0f", "%"), Column("Locust CPU", 11, ".0f", "%"), Column("failed", 6, "d"),
        ]  # fmt: skip
        rows = [
            (r.label, r.connections_per_s, r.primary_cpu_pct, r.us_per_connection, r.cpu_s_per_1000,
             r.wakeups_per_s, r.workers_cpu_pct, r.generator_cpu_pct, r.failures)
            for r in self.runs
        ]  # fmt: skip
        table = text_table(columns, rows, ["generator-bound" if r.generator_bound else "" for r in self.runs])
        return table + (f"\nNode's cluster: skipped ({self.node_skipped})" if self.node_skipped else "")

    def __repr__(self) -> str:
        return self.summary_table()


# -- the benchmark ---------------------------------------------------------------------------


def measure_primary_cost(
    config: PrimaryCostConfig | None = None, *, out: str | Path | None = None, progress: TextIO | None = sys.stdout
) -> PrimaryCostResult:
    """Each policy's primary, then Node's where ``node`` is on PATH, under the same load; results stored."""
    cfg = config or PrimaryCostConfig()
    known = cluster_policies()
    unknown = [p for p in cfg.policies if p not in known]
    if unknown:
        raise ValueError(f"unknown policy {', '.join(unknown)}: choose from {', '.join(known)}")
    node = node_path() if cfg.node else None
    node_skipped = None if node else ("not asked for" if not cfg.node else "node is not on PATH")
    root = Path(out) if out else new_results_dir("primary-cost")
    root.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    plans = [cluster_server(p) for p in cfg.policies] + ([node_server(node)] if node else [])
    runs = []
    for i, server in enumerate(plans, start=1):
        slug = server.label.lower().replace(" ", "-").replace("(", "").replace(")", "")
        _say(progress, f"[{i}/{len(plans)}] {server.label}: {cfg.users} users, {cfg.seconds:g} s, new connections")
        cost = run_primary(server, root / f"{i:02d}-{slug}", f"{i:02d}-{slug}", cfg, machine)
        bound = "  (generator-bound)" if cost.generator_bound else ""
        _say(
            progress,
            f"      {cost.connections_per_s:,.0f} connections/s, primary {cost.primary_cpu_pct:.1f}% of a core, "
            f"{cost.us_per_connection:.1f} us per connection; Locust {cost.generator_cpu_pct:.0f}%{bound}",
        )
        runs.append(cost)
    if node_skipped:
        _say(progress, f"Node's cluster: skipped ({node_skipped})")
    result = PrimaryCostResult(runs, node_skipped, root)
    write_summary(root)
    result.table.to_csv(root / "primary_cost.csv", index=False)
    write_json(root / "primary_cost.json", {"node_skipped": node_skipped, "machine": machine, "config": asdict(cfg)})
    return result


def load_primary_cost(root: str | Path) -> PrimaryCostResult:
    """A stored benchmark (its primary_cost.csv) read back, e.g. to plot it again without a rerun."""
    import json

    root = Path(root)
    table = pd.read_csv(root / "primary_cost.csv")
    fields = [f for f in PrimaryCost.__dataclass_fields__]
    runs = [PrimaryCost(**{k: row[k] for k in fields}) for row in table.to_dict("records")]
    extra = json.loads((root / "primary_cost.json").read_text()) if (root / "primary_cost.json").exists() else {}
    return PrimaryCostResult(runs, extra.get("node_skipped"), root)


def run_primary_cost(
    policies: Sequence[str] | None = None, seconds: float | None = None, node: bool = True
) -> PrimaryCostResult:
    """The notebook's entry point: QUICK-aware run length."""
    cfg = PrimaryCostConfig(
        policies=tuple(policies) if policies else cluster_policies(),
        seconds=seconds or pick(20.0, 7.0),
        warmup_s=pick(3.0, 1.5),
        node=node,
    )
    return measure_primary_cost(cfg)


def _say(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab primary-cost``'s options."""
    known = cluster_policies()
    parser.add_argument("--policies", nargs="+", default=list(known), metavar="POLICY",
                        help=f"cluster policies to measure (default: all of {', '.join(known)})")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of load per server (6..600)")
    parser.add_argument("--users", type=int, default=SCENARIO.users, help="Locust users (1..200)")
    parser.add_argument("--workers", type=int, default=2, help="workers per cluster (1..16)")
    parser.add_argument("--no-node", action="store_true", help="do not measure Node's cluster beside")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: results/primary-cost-<time>)")


def run_command(args: argparse.Namespace) -> int:
    """The primary's CPU per connection per policy: table, sentence, figure and the runs' folder."""
    known = cluster_policies()
    unknown = [p for p in args.policies if p not in known]
    if unknown:
        raise ValueError(f"unknown policy {', '.join(unknown)}: choose from {', '.join(known)}")
    if not (6 <= args.seconds <= 600 and 1 <= args.users <= 200 and 1 <= args.workers <= 16):
        raise ValueError("--seconds must be in 6..600, --users in 1..200, --workers in 1..16")
    cfg = PrimaryCostConfig(tuple(args.policies), args.workers, args.users, args.seconds, node=not args.no_node)
    result = measure_primary_cost(cfg, out=args.out)
    print()
    print(result.summary_table())
    print(result.sentence())
    from corelab.plots.primary_cost import plot_primary_cost

    assert result.root is not None
    plot_primary_cost(result).savefig(result.root / "primary_cost.png", dpi=110, bbox_inches="tight")
    print(f"written to {result.root} (primary_cost.csv, summary.csv, primary_cost.png, one folder per run)")
    return 0
