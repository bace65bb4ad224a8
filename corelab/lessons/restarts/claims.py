"""Notebook 4's claim, computed from its runs (corelab.claim: a sentence and its numbers).

- ``RestartComparison`` (notebook 4): per kind of disruption, how many requests failed, and which
  worker pids served before it and at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from corelab.claim import Claim
from corelab.lessons.restarts.under_load import RestartRuns


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
