"""How many requests a second one load generator process sends, and what K of them send.

``GET /`` (the ``hello`` scenario) costs the server next to nothing, so here the load generator
is the limit: one Locust process runs out of its core before a cluster runs out of work, and the
run is marked generator-bound. ``bench(..., generators=K)`` spreads the same users over Locust's
master and K worker processes (corelab.harness.loadgen); this measures the rate for each K, with each
generator process's CPU, and says for each run whether any one process passed 80% of a core.

On a 2-core machine the generators and the server share the same two cores: more generator
processes stop any one of them being the limit, but they cannot make the machine bigger.

    python -m corelab generators [--counts 1 2 3] [--seconds 10] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from corelab.harness.plan import BUDGET_FILE, save_budget
from corelab.harness.quick import pick
from corelab.harness.results import GENERATOR_BOUND_PCT, machine_info, new_results_dir
from corelab.harness.variants import VARIANTS
from corelab.text_table import Column, text_table

# The same users whatever K, so that only the number of generator processes changes (12: 1, 2 and 3 divide it).
USERS = 12


@dataclass(frozen=True)
class GeneratorRun:
    """One run: K generator processes, the rate they reached, and each one's CPU."""

    run: str
    generators: int
    rps: float
    requests: int
    failures: int
    server_cpu_pct: float
    master_cpu_pct: float | None  # None with one process: there is no master
    sender_cpu_pct: tuple[float, ...]  # each process that sends requests, % of one core
    sender_responses: tuple[int, ...]
    generator_bound: bool

    @property
    def rps_per_generator_core(self) -> float:
        """Requests a second per core's worth of generator CPU: what one saturated process could send."""
        cores = sum(self.sender_cpu_pct) / 100.0
        return self.rps / cores if cores > 0 else 0.0


@dataclass
class GeneratorScaling:
    """Every run of the measurement, and the machine it ran on."""

    root: Path
    target: str  # what was loaded, e.g. "cluster x2 (rr)"
    machine: dict[str, Any]
    runs: list[GeneratorRun] = field(default_factory=list)

    def counts(self) -> list[int]:
        return sorted({r.generators for r in self.runs})

    def rps(self, generators: int) -> float:
        """The median rate over the rounds with ``generators`` processes."""
        return statistics.median(r.rps for r in self.runs if r.generators == generators)

    def speedup(self, generators: int) -> float:
        base = (self.rps(1) if 1 in self.counts() else 0.0) or float("nan")
        return self.rps(generators) / base

    def budget_rps(self) -> float | None:
        """What one Locust process sends per core of its own (the median over the one-process runs that
        ran it near a full core, where the figure is least diluted by its idle moments), or None."""
        busy = [r.rps_per_generator_core for r in self.runs if r.generators == 1 and sum(r.sender_cpu_pct) >= 50]
        return statistics.median(busy) if busy else None

    def bound_runs(self, generators: int) -> int:
        return sum(r.generator_bound for r in self.runs if r.generators == generators)

    def table(self) -> str:
        columns = [
            Column("K", 2), Column("req/s", 7, ".0f"), Column("x K=1", 6, ".2f"), Column("master", 7, ".0f", "%"),
            Column("each sender, % of a core", 26, left=True), Column("req/s per gen. core", 19, ".0f"),
            Column("server", 7, ".0f", "%"),
        ]  # fmt: skip
        base = (self.rps(1) if 1 in self.counts() else 0.0) or float("nan")
        rows = [
            (r.generators, r.rps, r.rps / base, r.master_cpu_pct, ", ".join(f"{c:.0f}%" for c in r.sender_cpu_pct),
             r.rps_per_generator_core, r.server_cpu_pct)
            for r in self.runs
        ]  # fmt: skip
        return text_table(columns, rows, ["generator-bound" if r.generator_bound else "" for r in self.runs])

    def summary(self) -> str:
        """What this run shows, in sentences built from the numbers."""
        m = self.machine
        lines = [f"{m['cpu_model']}, {m['cores']} cores, Python {m['python']}; GET / against {self.target}."]
        for k in self.counts():
            n = sum(r.generators == k for r in self.runs)
            bound = self.bound_runs(k)
            verdict = (
                f"generator-bound in {bound} of {n} runs (a process above {GENERATOR_BOUND_PCT:.0f}% of a core)"
                if bound
                else f"no generator process above {GENERATOR_BOUND_PCT:.0f}% of a core"
            )
            lines.append(
                f"K={k}: median {self.rps(k):.0f} req/s ({self.speedup(k):.2f}x K=1) over {n} run(s); {verdict}."
            )
        return "\n".join(lines)


def measure_generators(
    counts: Sequence[int] = (1, 2, 3),
    *,
    variant: str = "cluster",
    workers: int = 2,
    seconds: float = 10,
    users: int = USERS,
    rounds: int = 1,
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
) -> GeneratorScaling:
    """GET / with K = each of ``counts`` generator processes, ``rounds`` times, K interleaved."""
    from corelab.harness.run import bench  # pandas and the harness only when a measurement runs

    if not counts or rounds < 1:
        raise ValueError("give at least one generator count and at least one round")
    root = Path(out) if out else new_results_dir("generators")
    for _ in range(rounds):
        for k in counts:
            bench([variant], workers=workers, scenario="hello", seconds=seconds, users=users,
                  generators=k, out=root, progress=progress)  # fmt: skip
    scaling = GeneratorScaling(root, _target(variant, workers), machine_info())
    for run_dir in sorted(p.parent for p in root.glob("*/meta.json")):
        scaling.runs.append(_generator_run(json.loads((run_dir / "meta.json").read_text())))
    return scaling


def _target(variant: str, workers: int) -> str:
    v = VARIANTS[variant]
    return f"{v.name} x{workers} ({v.policies[0]})" if v.multi_worker else v.name


def _generator_run(meta: dict[str, Any]) -> GeneratorRun:
    row = meta["summary"]
    processes = meta.get("generators") or []
    senders = [p for p in processes if p["role"] != "master"]
    master = next((p["cpu_pct"] for p in processes if p["role"] == "master"), None)
    return GeneratorRun(
        run=meta["run"],
        generators=int(row.get("generators", 1)),
        rps=float(row["rps"]),
        requests=int(row["requests"]),
        failures=int(row["failures"]),
        server_cpu_pct=float(row["server_cpu_pct"]),
        master_cpu_pct=master,
        sender_cpu_pct=tuple(p["cpu_pct"] for p in senders),
        sender_responses=tuple(p["responses"] for p in senders),
        generator_bound=bool(row["generator_bound"]),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab generators``'s options."""
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 2, 3], help="generator processes per run")
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="cluster", help="the server loaded")
    parser.add_argument("--workers", type=int, default=2, help="its workers, for the multi-worker variants")
    parser.add_argument("--seconds", type=float, default=pick(10, 4), help="per run (at least 3)")
    parser.add_argument("--users", type=int, default=USERS, help="Locust users, the same for every K")
    parser.add_argument("--rounds", type=int, default=pick(2, 1), help="runs per K, interleaved; medians reported")
    parser.add_argument("--out", type=Path, help="folder for the runs (default: results/generators-<timestamp>)")


def run_command(args: argparse.Namespace) -> int:
    """The rate per number of generator processes, each process's CPU, and which runs were generator-bound."""
    if args.seconds < 3:
        raise ValueError("--seconds must be at least 3 (the rate is measured once every user has connected)")
    if not 1 <= args.rounds <= 10:
        raise ValueError("--rounds must be in 1..10")
    if any(k < 1 for k in args.counts):
        raise ValueError(f"--counts: generators must be a whole number of processes, at least 1 (got {args.counts})")
    scaling = measure_generators(
        args.counts,
        variant=args.variant,
        workers=args.workers,
        seconds=args.seconds,
        users=args.users,
        rounds=args.rounds,
        out=args.out,
    )
    print()
    print(scaling.table())
    print()
    print(scaling.summary())
    budget = scaling.budget_rps()
    if budget is not None:
        # The load plan reads it from now on: how many Locust processes a run needs on this machine.
        save_budget({"fast": round(budget)}, scaling.machine.get("measured_at") or time.strftime("%Y-%m-%d"))
        print(f"\nbudget: one Locust process sends {budget:.0f} req/s per core of its own (written to {BUDGET_FILE})")
    print(f"\nruns in {scaling.root}")
    return 0
