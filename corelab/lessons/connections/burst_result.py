"""What a burst run found, per target: how often a worker got no connection, and the throughput.

``BurstResult`` is the claim notebook 3 shows (corelab.claim): one line per target, its numbers
as fields; ``figures_from`` computes each target's figures from the tidy tables, the same code for
a fresh run (corelab.lessons.connections.bursts.burst) and a stored one (load_burst).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from corelab.claim import Claim
from corelab.harness.results import GENERATOR_BOUND_PCT
from corelab.text_table import Column, text_table

BASELINE = "single"
# A trial during which other processes on the machine used this much of a core (they do, on a
# shared machine) measured the machine as much as the policy: it is counted as noisy. The figure is
# for a 2-core machine; other processes' CPU is summed over every core, so on a bigger machine the
# bar rises with the cores (``noisy_above``): a quarter of a core is nothing beside 64 busy workers.
NOISY_OTHER_CPU_PCT = 25.0


def noisy_above(cores: int) -> float:
    """Other processes' CPU (% of one core, summed over every core) above which a trial is noisy."""
    return NOISY_OTHER_CPU_PCT * max(1.0, cores / 2)


@dataclass(frozen=True)
class TargetFigures:
    """The claim's numbers for one target."""

    target: str
    label: str
    workers: int
    trials: int
    idle_trials: int  # trials in which some worker got no connection
    min_rps: float
    median_rps: float
    # What an idle worker did to throughput: the median of the bursts that left one idle, and of the others.
    median_rps_idle: float | None
    median_rps_every_worker: float | None
    # Each trial's throughput over one process's median throughput; its minimum (None for the baseline).
    min_ratio: float | None
    median_ratio: float | None
    max_locust_cpu_pct: float
    generator_bound_trials: int
    # The most that other processes on the machine used during a trial (% of one core): noise to read beside min_rps.
    max_other_cpu_pct: float
    noisy_trials: int  # trials in which other processes used more than NOISY_OTHER_CPU_PCT

    def sentence(self) -> str:
        noise = f" ({self.noisy_trials} ran beside other processes' load)" if self.noisy_trials else ""
        if self.target == BASELINE:
            return f"{self.target}: one process, median {self.median_rps:.0f} req/s (the baseline){noise}"
        ratio = f", at worst {self.min_ratio:.2f}x one process" if self.min_ratio is not None else ""
        cost = ""
        if self.median_rps_idle is not None and self.median_rps_every_worker is not None:
            cost = (
                f" (those served {self.median_rps_idle:.0f} req/s, the others {self.median_rps_every_worker:.0f}:"
                " medians)"
            )
        return (
            f"{self.target}: {self.idle_trials} of {self.trials} bursts left a worker idle{cost}; "
            f"{self.min_rps:.0f} to {self.median_rps:.0f} req/s (min, median){ratio}{noise}"
        )


@dataclass
class BurstResult(Claim):
    """Bursts against every target: how often a worker got no connection, and the throughput."""

    root: Path
    clients: int
    seconds: float
    default_policy: str
    figures: dict[str, TargetFigures]  # by target name, in the order they ran
    # target, trial, rps, ratio, idle, workers_used, connections, failures, locust_cpu_pct,
    # generator_bound, server_cpu_pct, other_cpu_pct
    trials: pd.DataFrame
    workers: pd.DataFrame  # target, trial, worker (1..n), pid, connections, responses: trials x workers, tidy

    def sentence(self) -> str:
        """One line per target: how often a worker got nothing, and the throughput; then Locust's CPU."""
        lines = [f.sentence() for f in self.figures.values()]
        lines.append(
            f"Locust used at most {self.max_locust_cpu_pct:.0f}% of a core "
            f"(generator-bound above {GENERATOR_BOUND_PCT:.0f}%)"
        )
        return "\n".join(lines)

    @property
    def max_locust_cpu_pct(self) -> float:
        return max((f.max_locust_cpu_pct for f in self.figures.values()), default=0.0)

    def fields(self) -> dict[str, object]:
        """The run's settings, Locust's most CPU, and each target's figures by name (TargetFigures' fields)."""
        return {
            "clients": self.clients,
            "seconds": self.seconds,
            "default_policy": self.default_policy,
            "max_locust_cpu_pct": self.max_locust_cpu_pct,
            "targets": {name: vars(f) for name, f in self.figures.items()},
        }

    def table(self) -> str:
        """Per target: bursts with an idle worker, throughput, and the most CPU Locust and the rest of the
        machine used in any trial (in % of one core)."""
        columns = [
            Column("target", 26, left=True), Column("idle", 8), Column("min rps", 8, ".1f"),
            Column("median", 8, ".1f"), Column("min x1", 7, ".2f"), Column("Locust CPU", 10, ".0f", "%"),
            Column("others", 7, ".0f", "%"),
        ]  # fmt: skip
        figures = list(self.figures.values())
        rows = [
            (f.label, f"{f.idle_trials} of {f.trials}", f.min_rps, f.median_rps, f.min_ratio,
             f.max_locust_cpu_pct, f.max_other_cpu_pct)
            for f in figures
        ]  # fmt: skip
        return text_table(columns, rows, ["generator-bound!" if f.generator_bound_trials else "" for f in figures])

    def __repr__(self) -> str:
        return f"BurstResult({self.root}: {self.clients} clients, {self.seconds:g} s per burst)\n{self.table()}"


def figures_from(trials: pd.DataFrame, workers: pd.DataFrame, labels: dict[str, str]) -> dict[str, TargetFigures]:
    """Each target's figures, from the tidy tables (the same code for a fresh run and a stored one)."""
    out = {}
    # The burst runs one worker per core: the most workers any target had is the machine's cores.
    threshold = noisy_above(int(workers["worker"].max()) if len(workers) else 2)
    for target, rows in trials.groupby("target", sort=False):
        has_ratio = rows["ratio"].notna().any() and target != BASELINE
        idle, every = rows[rows["idle"].astype(bool)]["rps"], rows[~rows["idle"].astype(bool)]["rps"]
        out[str(target)] = TargetFigures(
            target=str(target),
            label=labels.get(str(target), str(target)),
            workers=int(workers[workers["target"] == target]["worker"].max()),
            trials=len(rows),
            idle_trials=int(rows["idle"].sum()),
            min_rps=round(float(rows["rps"].min()), 1),
            median_rps=round(float(rows["rps"].median()), 1),
            median_rps_idle=round(float(idle.median()), 1) if len(idle) else None,
            median_rps_every_worker=round(float(every.median()), 1) if len(every) else None,
            min_ratio=round(float(rows["ratio"].min()), 3) if has_ratio else None,
            median_ratio=round(float(rows["ratio"].median()), 3) if has_ratio else None,
            max_locust_cpu_pct=round(float(rows["locust_cpu_pct"].max()), 1),
            generator_bound_trials=int(rows["generator_bound"].sum()),
            max_other_cpu_pct=round(float(rows["other_cpu_pct"].max()), 1),
            noisy_trials=int((rows["other_cpu_pct"] > threshold).sum()),
        )
    return out
