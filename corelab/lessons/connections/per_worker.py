"""Who gets the connection: each policy's per-worker shares of requests and connections, and the claim.

- ``balance``: each policy with keep-alive clients and with a new connection per request; per
  worker request and connection shares, and the max/min ratio.
- ``balance_claim`` -> ``ConnectionBalance`` (notebook 3): per policy and kind of client, the
  busiest worker's requests and connections over the least busy's; and one keep-alive client
  under rr, whose requests all go to the one worker that got its connection.

Every run is corelab's one run (``bench``): the per-worker counts are in each run's folder.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from corelab.claim import Claim
from corelab.harness.results import Runs, new_results_dir
from corelab.harness.run import bench

# -- the measurement -------------------------------------------------------------------

CLIENTS = {"keepalive": "keep-alive", "short": "new connection per request"}


@dataclass
class Balance:
    runs: Runs
    shares: pd.DataFrame  # run, policy, clients, pid, requests, connections, request_share, connection_share
    summary: pd.DataFrame  # run, policy, clients, rps, failures, requests_max_min, connections_max_min

    def __repr__(self) -> str:
        return self.summary.to_string(index=False)


def balance(
    policies: tuple[str, ...] = ("rr", "shared", "reuseport"),
    clients: tuple[str, ...] = ("keepalive", "short"),
    *,
    workers: int = 2,
    users: int = 20,
    seconds: float = 15,
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
) -> Balance:
    """Run the cluster with each policy under each kind of client; return the per-worker shares."""
    root = Path(out) if out else new_results_dir("balance")
    for kind in clients:
        runs = bench(
            ["cluster"], workers=workers, policies=list(policies), scenario=kind, seconds=seconds, users=users,
            out=root, progress=progress,
        )  # fmt: skip
    rows, summary = [], []
    for row in runs.summary.itertuples():
        run_dir = root / row.run
        requests = _read_counts(run_dir / "workers.json")
        connections = _read_counts(run_dir / "worker_connections.json")
        total_r, total_c = sum(requests.values()) or 1, sum(connections.values()) or 1
        for pid in sorted(set(requests) | set(connections)):
            rows.append(
                {
                    "run": row.run, "policy": row.policy, "clients": row.scenario, "pid": pid,
                    "requests": requests.get(pid, 0), "connections": connections.get(pid, 0),
                    "request_share": requests.get(pid, 0) / total_r,
                    "connection_share": connections.get(pid, 0) / total_c,
                }
            )  # fmt: skip
        summary.append(
            {
                "run": row.run, "policy": row.policy, "clients": row.scenario, "rps": row.rps,
                "failures": row.failures, "requests_max_min": _max_min(requests, workers),
                "connections_max_min": _max_min(connections, workers),
            }
        )  # fmt: skip
    return Balance(runs, pd.DataFrame(rows), pd.DataFrame(summary))


def _read_counts(path: Path) -> dict[int, int]:
    return {int(k): int(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


def _max_min(counts: dict[int, int], workers: int) -> float:
    """Busiest worker over least busy; a worker that got nothing makes it infinite."""
    values = sorted(counts.values())
    if len(values) < workers or not values or values[0] == 0:
        return float("inf")
    return round(values[-1] / values[0], 3)


# -- the claim --------------------------------------------------------------------------------


@dataclass
class ConnectionBalance(Claim):
    """How evenly each policy shared out requests and connections, and where one client's requests went."""

    users: int  # the clients of each balance run
    # "policy/clients" -> the busiest worker's count over the least busy's (inf: a worker got none).
    requests_max_min: dict[str, float] = field(default_factory=dict)
    connections_max_min: dict[str, float] = field(default_factory=dict)
    rps: dict[str, float] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    keepalive_max_connections: int | None = None  # the most connections any keep-alive run opened
    one_client_policy: str = "rr"
    one_client_top_share: float = 0.0  # one keep-alive client: the busiest worker's share of its requests

    def sentence(self) -> str:
        lines = []
        for key, requests in self.requests_max_min.items():
            policy, clients = key.split("/")
            lines.append(
                f"{policy:>9} / {clients:<9}: busiest/least busy worker = {requests:.2f} (requests), "
                f"{self.connections_max_min[key]:.2f} (connections), {self.rps[key]:.0f} req/s, "
                f"{self.failures[key]} failed"
            )
        if self.keepalive_max_connections is not None:
            extra = self.keepalive_max_connections - self.users
            lines.append(
                f"keep-alive: {self.keepalive_max_connections} connections at most per run "
                f"for {self.users} users ({extra} reconnections)"
            )
        lines.append(
            f"one keep-alive client under {self.one_client_policy}: "
            f"one worker served {self.one_client_top_share:.0%} of its requests"
        )
        return "\n".join(lines)

    def fields(self) -> dict[str, Any]:
        # inf (a worker that got nothing) has no JSON number: say it as a string, not a missing value.
        out = super().fields()
        for name in ("requests_max_min", "connections_max_min", "rps", "failures"):
            out[name] = {k: ("inf" if v == float("inf") else v) for k, v in getattr(self, name).items()}
        return out


def balance_claim(result: Balance, one: Balance, users: int) -> ConnectionBalance:
    """The claim from notebook 3's balance runs (``result``) and its one-client run (``one``)."""
    claim = ConnectionBalance(users=users)
    for row in result.summary.itertuples():
        key = f"{row.policy}/{row.clients}"
        claim.requests_max_min[key] = float(row.requests_max_min)
        claim.connections_max_min[key] = float(row.connections_max_min)
        claim.rps[key] = round(float(row.rps), 1)
        claim.failures[key] = int(row.failures)
    keep = result.shares[result.shares["clients"] == "keepalive"].groupby("policy")["connections"].sum()
    claim.keepalive_max_connections = int(keep.max()) if len(keep) else None
    claim.one_client_policy = str(one.summary["policy"].iloc[0])
    claim.one_client_top_share = round(float(one.shares["request_share"].max()), 4)
    return claim
