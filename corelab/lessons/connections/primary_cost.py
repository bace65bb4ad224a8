"""The price of balance, as a result: the primary's CPU per connection per server, and its claim.

``PrimaryCostResult`` is what ``measure_primary_cost`` (primary_cost_bench) returns and
``load_primary_cost`` reads back from a stored benchmark; ``plot_primary_cost`` (figures) draws it.
How one run is made: primary_cost_run; the primary's CPU snapshots: primary_cpu.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from corelab.claim import Claim
from corelab.lessons.connections.primary_cost_run import TABLE_COLUMNS, PrimaryCost
from corelab.text_table import Column, text_table


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


def load_primary_cost(root: str | Path) -> PrimaryCostResult:
    """A stored benchmark (its primary_cost.csv) read back, e.g. to plot it again without a rerun."""
    root = Path(root)
    table = pd.read_csv(root / "primary_cost.csv")
    fields = [f for f in PrimaryCost.__dataclass_fields__]
    runs = [PrimaryCost(**{k: row[k] for k in fields}) for row in table.to_dict("records")]
    extra = json.loads((root / "primary_cost.json").read_text()) if (root / "primary_cost.json").exists() else {}
    return PrimaryCostResult(runs, extra.get("node_skipped"), root)
