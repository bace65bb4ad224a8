"""Who used the cores: the server, Locust, and everything else, in cores' worth, sample by sample.

The per-core heatmap says what each core did; it does not say whose work it was. A single server
process that the scheduler moves between cores lights several rows half-way, which reads as "one
process uses several cores" although it never runs on two at once. These tables say it in cores'
worth, from the samples a run already stores (cores.csv and procs.csv, same clock, same ticks):

- ``cores_worth(runs)``: per run and sample, the server's CPU, Locust's and the rest's (the machine's
  busy cores less those two: the kernel, a browser, JupyterLab, other programs), each in cores (1.0
  is one core busy all the time);
- ``server_on_cores(runs)``: per run, sample and core, how much of that core was the server's,
  from the core each server process last ran on (psutil's ``cpu_num``; Linux and FreeBSD);
- ``core_moves(runs)``: per run, how often the server's processes changed cores between samples,
  and how many cores they ran on;
- ``measured_window(runs, label)``: the seconds a run's req/s (and so its CPU figures) were counted over.
"""

from __future__ import annotations

import pandas as pd

from corelab.harness.results import Runs
from corelab.harness.scenarios import SCENARIOS

GROUPS = ("server", "generator")


def cores_worth(runs: Runs) -> pd.DataFrame:
    """run, label, t, server, generator, other, busy: cores' worth used in each sample."""
    busy = runs.cores.groupby(["run", "label", "t"], as_index=False)["util_pct"].sum()
    busy = busy.rename(columns={"util_pct": "busy"})
    procs = runs.procs[runs.procs["group"].isin(GROUPS)]
    used = procs.pivot_table(index=["run", "label", "t"], columns="group", values="cpu_pct", aggfunc="sum")
    used = used.reindex(columns=list(GROUPS)).fillna(0.0).reset_index()
    table = busy.merge(used, on=["run", "label", "t"], how="left").fillna({"server": 0.0, "generator": 0.0})
    for column in ("busy", "server", "generator"):
        table[column] = table[column] / 100.0
    # What neither the server nor Locust used: never below zero (the two tables are read a few
    # microseconds apart, so a tick can count a little more for the processes than for the cores).
    table["other"] = (table["busy"] - table["server"] - table["generator"]).clip(lower=0.0)
    return table[["run", "label", "t", "server", "generator", "other", "busy"]]


def server_on_cores(runs: Runs) -> pd.DataFrame:
    """run, label, t, core, server_pct: the part of each core's sample the server's processes used."""
    procs = runs.procs[(runs.procs["group"] == "server") & (runs.procs["core"] >= 0)]
    on = procs.groupby(["run", "label", "t", "core"], as_index=False)["cpu_pct"].sum()
    return on.rename(columns={"cpu_pct": "server_pct"})


def core_moves(runs: Runs) -> pd.DataFrame:
    """run, label, moves, cores_visited, seconds: how often the server's busy processes changed cores
    from one sample to the next, and on how many cores they ran; -1 where the OS does not say."""
    rows = []
    for (run, label), procs in runs.procs[runs.procs["group"] == "server"].groupby(["run", "label"], sort=False):
        busy = procs[procs["cpu_pct"] >= 5.0].sort_values("t")
        if busy.empty or (busy["core"] < 0).all():
            rows.append({"run": run, "label": label, "moves": -1, "cores_visited": -1, "seconds": 0.0})
            continue
        moves = sum(int((series.diff().fillna(0) != 0).sum()) for _, series in busy.groupby("pid")["core"])
        rows.append(
            {
                "run": run,
                "label": label,
                "moves": moves,
                "cores_visited": int(busy["core"].nunique()),
                "seconds": round(float(busy["t"].max() - busy["t"].min()), 1),
            }
        )
    return pd.DataFrame(rows, columns=["run", "label", "moves", "cores_visited", "seconds"])


def measured_window(runs: Runs, label: str) -> tuple[float, float] | None:
    """The seconds (on the run's clock) its req/s was counted over: from one second after the last
    user started (``corelab.harness.loadgen.steady_rps``) to Locust's last reading. None without history."""
    history = runs.history[(runs.history["label"] == label) & (runs.history["users"] > 0)]
    if len(history) < 2:
        return None
    scenario = runs.summary.loc[runs.summary["label"] == label, "scenario"].iloc[0]
    ramp = SCENARIOS[scenario].ramp_s if scenario in SCENARIOS else 0.0
    return float(history["t"].iloc[0]) + ramp + 1, float(history["t"].iloc[-1])
