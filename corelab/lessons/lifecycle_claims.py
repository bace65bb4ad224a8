"""Notebooks 3 and 4's claims, computed from their runs (corelab.claim: a sentence and its numbers).

- ``ConnectionBalance`` (notebook 3): per policy and kind of client, the busiest worker's
  requests and connections over the least busy's; and one keep-alive client under rr, whose
  requests all go to the one worker that got its connection.
- ``RestartComparison`` (notebook 4): per kind of disruption, how many requests failed, and which
  worker pids served before it and at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corelab.claim import Claim
from corelab.lessons.lifecycle import Balance, RestartRuns


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


@dataclass(frozen=True)
class RestartOutcome:
    kind: str  # "rolling", "naive", "crash", "gunicorn"
    label: str
    requests: int
    failures: int
    pids_before: tuple[int, ...]  # the worker pids that served in the seconds before the disruption
    pids_after: tuple[int, ...]  # and in the run's last second

    def sentence(self) -> str:
        return (
            f"{self.label}: {self.failures} of {self.requests} requests failed; "
            f"pids serving before {list(self.pids_before)}, at the end {list(self.pids_after)}"
        )


@dataclass
class RestartComparison(Claim):
    """Each disruption under the same steady load: the requests that failed, and who served."""

    outcomes: list[RestartOutcome]

    def sentence(self) -> str:
        return "\n".join(o.sentence() for o in self.outcomes)

    def fields(self) -> dict[str, Any]:
        """Per kind: ``<kind>_requests``, ``<kind>_failures``, and the pids before and after."""
        out: dict[str, Any] = {"kinds": [o.kind for o in self.outcomes]}
        for o in self.outcomes:
            out[f"{o.kind}_requests"] = o.requests
            out[f"{o.kind}_failures"] = o.failures
            out[f"{o.kind}_pids_before"] = list(o.pids_before)
            out[f"{o.kind}_pids_after"] = list(o.pids_after)
        return out


def restart_claim(runs: RestartRuns) -> RestartComparison:
    """The claim from ``restart_under_load``'s runs: per run, its failures and the pids around the disruption."""
    outcomes = []
    for row in runs.summary.itertuples():
        event = runs.events[runs.events["run"] == row.run].iloc[0]
        timeline = runs.timeline[runs.timeline["run"] == row.run]
        before = sorted(int(p) for p in timeline[timeline["t"] < event.t - 1]["pid"].unique())
        last = timeline["t"].max()
        after = sorted(int(p) for p in timeline[timeline["t"] >= last - 1]["pid"].unique())
        outcomes.append(
            RestartOutcome(row.kind, row.label, int(row.requests), int(row.failures), tuple(before), tuple(after))
        )
    return RestartComparison(outcomes)
