"""The price of balance: the primary's CPU per connection, for each cluster policy and for Node's cluster.

With ``rr`` and ``sticky`` every connection passes through the cluster's primary: it accepts it
(sticky also peeks at the request line) and sends the socket to a worker over a Unix socket
(SCM_RIGHTS). With ``shared`` and ``reuseport`` the kernel hands connections straight to the
workers, and the primary does no work per connection. Node's cluster does what rr does.

Each run starts the server (2 workers), has one Locust process open connections as fast as it
can (GET /, a new connection per request: loadtests/connection_per_request.py), and reads with
psutil the primary's CPU time at both edges of the steady window; Locust counts the connections
served inside it. Per run: connections/s, the primary's CPU in % of a core, microseconds of
primary CPU per connection, and CPU seconds per 1,000 connections.

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
import math
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import pandas as pd
import psutil

from corelab.loadgen import LoadConfig, read_locust_results, start_locust
from corelab.quick import pick
from corelab.results import (
    GENERATOR_BOUND_PCT,
    machine_info,
    new_results_dir,
    write_json,
    write_summary,
)
from corelab.sampler import Sampler
from corelab.scenarios import LOADTESTS, Scenario
from corelab.variants import get_variant
from plumbing.env import CONNECTION_TIMELINE
from plumbing.procs import PROJECT_ROOT, ManagedProcess, free_port, wait_until_serving

# Used only if neither the cluster's policy registry nor its config can be imported.
DEFAULT_POLICIES = ("shared", "reuseport", "rr", "sticky")
PLOT_ORDER = ("shared", "shared-one", "reuseport", "rr", "sticky")
NODE_SCRIPT = PROJECT_ROOT / "servers" / "peers" / "node_cluster.js"
NODE_LABEL = "Node (rr)"
SCENARIO = Scenario(
    "connection_per_request",
    LOADTESTS / "connection_per_request.py",
    # Enough users to keep one Locust process busy (on the 2-core VM: 96% of a core at 25 users).
    25,
    "GET / as fast as one Locust process goes, a new connection per request",
    # Every user at once: each request is a new connection placed on its own, so a burst of
    # users is no burst of long-lived connections, and the window opens after a warm-up anyway.
    ramp_s=0.0,
)
# Snapshots of CPU times this often while Locust runs; the window's edges fall on snapshots.
SNAPSHOT_EVERY_S = 0.25
TIMELINE_FILE = "connection_timeline.csv"


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


@dataclass(frozen=True)
class PrimaryCost:
    """One server's primary, measured over its run's steady window."""

    label: str  # the policy's name, or NODE_LABEL
    server: str  # "servers.cluster" or "node"
    policy: str
    window_s: float
    connections: int  # answered inside the window: one request per connection
    failures: int  # failed inside the window
    primary_cpu_s: float
    # The primary's voluntary context switches: about how often it slept in select() and woke. One
    # wake-up may accept several connections, so the cost per connection falls as they come faster.
    primary_wakeups: int
    workers_cpu_pct: float  # every worker together, in % of one core
    generator_cpu_pct: float  # Locust's own CPU, in % of one core

    @property
    def connections_per_s(self) -> float:
        return self.connections / self.window_s if self.window_s > 0 else 0.0

    @property
    def primary_cpu_pct(self) -> float:
        return 100.0 * self.primary_cpu_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def us_per_connection(self) -> float:
        return 1e6 * self.primary_cpu_s / self.connections if self.connections else math.nan

    @property
    def cpu_s_per_1000(self) -> float:
        return 1000.0 * self.primary_cpu_s / self.connections if self.connections else math.nan

    @property
    def wakeups_per_s(self) -> float:
        return self.primary_wakeups / self.window_s if self.window_s > 0 else 0.0

    @property
    def generator_bound(self) -> bool:
        return self.generator_cpu_pct > GENERATOR_BOUND_PCT

    def phrase(self) -> str:
        """E.g. "rr 80 us (13% of a core at 1,700/s)"; a primary that does no work per connection, just its us."""
        if self.us_per_connection < 5:
            return f"{self.label} {self.us_per_connection:.1f} us"
        rate = f"{self.primary_cpu_pct:.0f}% of a core at {self.connections_per_s:,.0f}/s"
        return f"{self.label} {self.us_per_connection:.0f} us ({rate})"

    def row(self) -> dict[str, object]:
        return {
            **asdict(self),
            "connections_per_s": round(self.connections_per_s, 1),
            "primary_cpu_pct": round(self.primary_cpu_pct, 2),
            "us_per_connection": round(self.us_per_connection, 2),
            "cpu_s_per_1000": round(self.cpu_s_per_1000, 4),
            "wakeups_per_s": round(self.wakeups_per_s, 1),
            "generator_bound": self.generator_bound,
        }


TABLE_COLUMNS = [
    "label", "server", "policy", "connections_per_s", "primary_cpu_pct", "us_per_connection", "cpu_s_per_1000",
    "connections", "window_s", "primary_cpu_s", "primary_wakeups", "wakeups_per_s", "failures",
    "workers_cpu_pct", "generator_cpu_pct", "generator_bound",
]  # fmt: skip


@dataclass
class PrimaryCostResult:
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

    def summary_table(self) -> str:
        lines = [
            f"{'server':<12} {'conn/s':>7} {'primary CPU':>12} {'us/conn':>8} {'CPU s/1000':>11} "
            f"{'wake-ups/s':>10} {'workers CPU':>12} {'Locust CPU':>11} {'failed':>6}"
        ]
        for r in self.runs:
            flag = "  generator-bound" if r.generator_bound else ""
            lines.append(
                f"{r.label:<12} {r.connections_per_s:7.0f} {r.primary_cpu_pct:11.1f}% {r.us_per_connection:8.1f} "
                f"{r.cpu_s_per_1000:11.4f} {r.wakeups_per_s:10.0f} {r.workers_cpu_pct:11.0f}% "
                f"{r.generator_cpu_pct:10.0f}% {r.failures:6d}{flag}"
            )
        if self.node_skipped:
            lines.append(f"Node's cluster: skipped ({self.node_skipped})")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary_table()


# -- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Server:
    label: str
    server: str
    policy: str
    command: list[str]
    ready_line: str | None


def _cluster(policy: str, port: int, workers: int) -> _Server:
    variant = get_variant("cluster")
    return _Server(policy, "servers.cluster", policy, variant.command(port, workers, policy), variant.ready_line)


def _node(node: str, port: int, workers: int) -> _Server:
    command = [node, str(NODE_SCRIPT), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return _Server(NODE_LABEL, "node", "rr", command, "node cluster ready")


@dataclass(frozen=True)
class _Snapshot:
    t: float  # Unix time, the clock Locust stamps its timeline with
    primary_s: float
    primary_wakeups: int
    workers_s: float
    generator_s: float


def _cpu_s(procs: Sequence[psutil.Process]) -> float:
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue  # gone: its time is lost, and a worker that dies mid-run shows in the failures
        total += times.user + times.system
    return total


def _wakeups(proc: psutil.Process) -> int:
    try:
        return proc.num_ctx_switches().voluntary
    except psutil.Error:
        return 0


def _snapshots_until_done(
    locust: ManagedProcess, primary: psutil.Process, workers: list[psutil.Process], seconds: float
) -> list[_Snapshot]:
    generator = [psutil.Process(locust.pid)]
    deadline = time.monotonic() + seconds + 30  # Locust's start-up and its CSVs after the run
    snapshots = []
    while locust.alive():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Locust did not finish:\n{locust.log_text()}")
        snapshots.append(
            _Snapshot(time.time(), _cpu_s([primary]), _wakeups(primary), _cpu_s(workers), _cpu_s(generator))
        )
        time.sleep(SNAPSHOT_EVERY_S)
    return snapshots


def _connections_between(timeline: pd.DataFrame, t_from: float, t_to: float, column: str) -> float:
    """Connections in [t_from, t_to], counting a tenth-of-a-second bucket by how much of it is inside."""
    overlap = (timeline["t"] + 0.1).clip(upper=t_to) - timeline["t"].clip(lower=t_from)
    return float((timeline[column] * (overlap.clip(lower=0.0) / 0.1)).sum())


def _measure(
    snapshots: list[_Snapshot], timeline: pd.DataFrame, server: _Server, cfg: PrimaryCostConfig
) -> PrimaryCost:
    served = timeline[timeline["connections"] > 0]
    if served.empty:
        raise RuntimeError(f"{server.label}: Locust served no connection")
    # Steady: every user started and warmed up; stop half a second before the last answer.
    opens = float(served["t"].min()) + SCENARIO.ramp_s + cfg.warmup_s
    closes = float(served["t"].max()) - 0.5
    inside = [s for s in snapshots if opens <= s.t <= closes]
    if len(inside) < 2 or inside[-1].t - inside[0].t < 1.0:
        raise RuntimeError(f"{server.label}: no steady window of 1 s or more; run longer than {cfg.seconds:g} s")
    first, last = inside[0], inside[-1]
    window = last.t - first.t
    return PrimaryCost(
        label=server.label,
        server=server.server,
        policy=server.policy,
        window_s=round(window, 3),
        connections=round(_connections_between(timeline, first.t, last.t, "connections")),
        failures=round(_connections_between(timeline, first.t, last.t, "failures")),
        primary_cpu_s=round(last.primary_s - first.primary_s, 3),
        primary_wakeups=last.primary_wakeups - first.primary_wakeups,
        workers_cpu_pct=round(100.0 * (last.workers_s - first.workers_s) / window, 1),
        generator_cpu_pct=round(100.0 * (last.generator_s - first.generator_s) / window, 1),
    )


def run_one(
    server: _Server, port: int, run_dir: Path, run_id: str, cfg: PrimaryCostConfig, machine: dict
) -> PrimaryCost:
    """Start ``server``, load it with new connections, measure its primary; store the run in ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    url = f"http://127.0.0.1:{port}"
    load = LoadConfig(users=cfg.users, seconds=cfg.seconds, ramp_s=SCENARIO.ramp_s)
    timeline_path = run_dir / TIMELINE_FILE
    with ManagedProcess(server.command, log_path=run_dir / "server.log") as proc:
        wait_until_serving(f"{url}/health", proc, ready_line=server.ready_line)
        primary = psutil.Process(proc.pid)
        workers = primary.children(recursive=True)
        sampler = Sampler({"server": proc.pid})
        env = {CONNECTION_TIMELINE: str(timeline_path)}
        with start_locust(SCENARIO, url, load, run_dir, env) as locust:
            sampler.watch("generator", locust.pid)
            started_at = time.time()
            sampler.start()
            try:
                snapshots = _snapshots_until_done(locust, primary, workers, cfg.seconds)
            finally:
                samples = sampler.stop()
    if not timeline_path.exists():
        log = (run_dir / "locust.log").read_text(errors="replace")
        raise RuntimeError(f"{server.label}: Locust wrote no connection timeline:\n{log}")
    cost = _measure(snapshots, pd.read_csv(timeline_path), server, cfg)

    samples.cores.to_csv(run_dir / "cores.csv", index=False)
    samples.procs.to_csv(run_dir / "procs.csv", index=False)
    pd.DataFrame([asdict(s) for s in snapshots]).to_csv(run_dir / "cpu_snapshots.csv", index=False)
    stats, _history, counts = read_locust_results(run_dir)
    agg = stats[stats["Name"] == "Aggregated"].iloc[0]
    shares = sorted(counts.values())
    # The kit's summary row (corelab.results.SUMMARY_COLUMNS), so load_runs reads these runs too.
    summary = {
        "run": run_id,
        "label": f"{server.label} (primary cost)",
        "variant": "cluster" if server.server == "servers.cluster" else "node",
        "workers": cfg.workers,
        "policy": server.policy,
        "scenario": SCENARIO.name,
        "params": "",
        "users": cfg.users,
        "seconds": cfg.seconds,
        "requests": int(agg["Request Count"]),
        "failures": int(agg["Failure Count"]),
        "rps": round(cost.connections_per_s, 2),
        "p50_ms": float(agg["50%"]),
        "p99_ms": float(agg["99%"]),
        "server_cpu_pct": round(cost.primary_cpu_pct + cost.workers_cpu_pct, 1),
        "generator_cpu_pct": cost.generator_cpu_pct,
        "generator_bound": cost.generator_bound,
        "worker_max_min": round(shares[-1] / shares[0], 3) if len(shares) > 1 and shares[0] else None,
        "sampler_overhead_pct": round(samples.overhead_pct, 2),
    }
    meta = {
        "run": run_id,
        "label": summary["label"],
        "variant": summary["variant"],
        "server_command": server.command,
        "workers": cfg.workers,
        "policy": server.policy,
        "scenario": SCENARIO.name,
        "params": {},
        "users": cfg.users,
        "seconds": cfg.seconds,
        "sampler_started_at": started_at,
        "machine": machine,
        "summary": summary,
        "primary_cost": cost.row(),
    }
    write_json(run_dir / "meta.json", meta)
    return cost


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
    plans = [lambda port, p=p: _cluster(p, port, cfg.workers) for p in cfg.policies]
    if node:
        plans.append(lambda port: _node(node, port, cfg.workers))
    runs = []
    for i, make in enumerate(plans, start=1):
        port = free_port()
        server = make(port)
        slug = server.label.lower().replace(" ", "-").replace("(", "").replace(")", "")
        _say(progress, f"[{i}/{len(plans)}] {server.label}: {cfg.users} users, {cfg.seconds:g} s, new connections")
        cost = run_one(server, port, root / f"{i:02d}-{slug}", f"{i:02d}-{slug}", cfg, machine)
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
