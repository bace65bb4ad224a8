"""Figures for what happens inside one process: the blocked loop, the GIL (where there is one), pools, shared memory."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from corelab.figures.common import label_bars, labels_in_order
from corelab.figures.cores import core_ids, draw_cores, panel_height
from corelab.harness.results import Runs

if TYPE_CHECKING:
    from corelab.lessons.one_process.parallel import ParallelResult
    from corelab.lessons.one_process.shared_counter import CounterResult
    from corelab.lessons.one_process.spawn_cost import SpawnCostResult

PROBE_NAME = "probe /health"


def _work_ms(runs: Runs) -> float | None:
    """The CPU burn per work request, read from its Locust name (``/work?ms=50&offload=...``)."""
    names = runs.endpoints.loc[runs.endpoints["name"] != PROBE_NAME, "name"]
    found = [re.search(r"ms=(\d+)", str(n)) for n in names]
    values = {float(m.group(1)) for m in found if m}
    return values.pop() if len(values) == 1 else None


def plot_probe_latency(runs: Runs, *, title: str | None = None) -> Figure:
    """The probe's latency over time per offload mode (log scale), and each mode's CPU throughput.

    Reference lines: one CPU request's burn (what a probe waits behind, at least, on a blocked
    loop), and the most one core can serve of them a second.
    """
    from corelab.lessons.one_process.blocked_loop import probe_table

    table = probe_table(runs)
    work_ms = _work_ms(runs)
    fig, (ax_t, ax_p, ax_w) = plt.subplots(1, 3, figsize=(13, 3.9), gridspec_kw={"width_ratios": [2.2, 1, 1]})
    history = runs.endpoint_history[runs.endpoint_history["name"] == PROBE_NAME]
    for label, data in history.groupby("label", sort=False):
        data = data[data["p99_ms"] > 0]  # Locust writes 0 before the probe's first answer
        ax_t.plot(data["t"], data["p99_ms"], marker=".", label=label)
    ax_t.set_yscale("log")
    ax_t.set_xlabel("seconds")
    ax_t.set_ylabel("probe p99, ms (last seconds, log)")
    ax_t.grid(alpha=0.3, which="both")
    ax_t.set_title("the probe's latency over time", fontsize=10)

    modes = list(table.index)
    bars = ax_p.bar(modes, table["probe_p99_ms"].clip(lower=0.5), color="tab:red")
    label_bars(ax_p, bars, (f"{v:.0f} ms" for v in table["probe_p99_ms"]), fontsize=10)
    ax_p.set_yscale("log")
    ax_p.set_ylim(top=table["probe_p99_ms"].max() * 4)
    ax_p.set_xlabel("where the CPU work ran (offload)")
    ax_p.set_title("probe p99 over the run (log)", fontsize=10)
    if work_ms:
        for ax in (ax_t, ax_p):
            ax.axhline(work_ms, color="black", ls="--", lw=1, label=f"one CPU request: {work_ms:.0f} ms")
    ax_t.legend(fontsize=8)

    bars = ax_w.bar(modes, table["work_rps"], color="tab:blue")
    label_bars(ax_w, bars, (f"{v:.0f}/s" for v in table["work_rps"]), fontsize=10, inside=True)
    top = float(table["work_rps"].max())
    if work_ms:
        one = 1000 / work_ms
        ax_w.axhline(one, color="black", ls=":", lw=1.2, label=f"one core's limit: {one:.0f}/s")
        ax_w.legend(fontsize=8, loc="upper left")
        top = max(top, one)
    ax_w.set_ylim(0, top * 1.4)
    ax_w.set_xlabel("where the CPU work ran (offload)")
    ax_w.set_title("CPU requests served / s", fontsize=10)
    p99 = ", ".join(f"{mode} {v:.0f} ms" for mode, v in table["probe_p99_ms"].items())
    fig.suptitle(title or f"a health probe's p99 beside CPU requests, by where the work ran: {p99}", fontsize=11)
    fig.tight_layout()
    return fig


def speedup_title(result: ParallelResult) -> str:
    """The claim in this run's numbers: the speed-up each mode got with as many workers as cores."""
    k = result.compared_workers
    at = ", ".join(f"{mode} {result.speedup(mode, k):.2f}x" for mode in labels_in_order(result.table["mode"]))
    # The interpreter is part of the claim: the same threads use one core with the GIL, several without.
    gil = "GIL on" if result.gil_enabled else "GIL off"
    where = f"{result.interpreter}, {gil}" if result.interpreter else gil
    return f"the same job on {k} workers ({result.cores_available} cores, {where}), jobs/s over one worker's: {at}"


def plot_speedup(result: ParallelResult, *, title: str | None = None) -> Figure:
    """Speed-up over one worker, and cores busy, against the number of workers, one line per mode."""
    table = result.table
    fig, (ax, ax_busy) = plt.subplots(1, 2, figsize=(12, 4.4))
    ks = sorted(table["workers"].unique())
    ideal = [min(k, result.cores_available) for k in ks]
    for axis, column, unit in ((ax, "speedup", "x"), (ax_busy, "cores_busy", "")):
        axis.plot(ks, ideal, "k--", alpha=0.5, label=f"the most {result.cores_available} cores can give")
        last = {}
        for mode, data in table.groupby("mode", sort=False):
            line = axis.plot(data["workers"], data[column], marker="o", label=mode)[0]
            last[mode] = (float(data[column].iloc[-1]), line.get_color())
        # End labels, nudged apart where two lines end close together.
        placed: list[float] = []
        for value, colour in sorted(last.values()):
            y = max([value, *[p + 0.12 for p in placed if abs(p - value) < 0.12]])
            placed.append(y)
            axis.annotate(f"{value:.2f}{unit}", (ks[-1], y), xytext=(6, 0), textcoords="offset points", va="center",
                          fontsize=8, color=colour)  # fmt: skip
        axis.set_xticks(ks)
        axis.set_xlabel("workers running the job at once")
        axis.set_ylim(0, max(ideal) + 0.6)
        axis.grid(alpha=0.3)
    ax.set_ylabel("jobs/s over one worker's")
    ax_busy.set_ylabel("CPU seconds used / wall seconds")
    handles, names = ax.get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="outside lower center", ncol=len(names), frameon=False)
    notes = "; ".join(f"{mode}: skipped" for mode in result.skipped)
    ax.set_title("speed-up" + (f" ({notes})" if notes else ""), fontsize=10)
    ax_busy.set_title("cores busy with the jobs at once", fontsize=10)
    fig.suptitle(title or speedup_title(result), fontsize=11)
    fig.set_layout_engine("constrained")
    return fig


def plot_parallel_cores(result: ParallelResult, *, title: str | None = None) -> Figure:
    """The per-core heatmap over the whole measurement, each step (mode, k workers) marked on it."""
    ids = core_ids(result.cores)
    fig, ax = plt.subplots(figsize=(12, 1.6 + panel_height(len(ids))), layout="constrained")
    image = draw_cores(ax, result.cores, ids)
    fig.colorbar(image, ax=ax, label="core busy, %", fraction=0.03, pad=0.02)
    colours = dict(zip(result.raw["mode"].unique(), plt.cm.tab10.colors, strict=False))
    for row in result.raw.itertuples():
        ax.axvspan(row.t_start, row.t_end, ymin=1.0, ymax=1.12, color=colours[row.mode], alpha=0.9, clip_on=False)
        ax.axvline(row.t_start, color="white", lw=0.6, alpha=0.7)
        # The worker count, inside the strip (axes coordinates across the top, data coordinates along).
        ax.text((row.t_start + row.t_end) / 2, 1.06, str(row.workers), ha="center", va="center", fontsize=7,
                color="black", transform=ax.get_xaxis_transform())  # fmt: skip
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, list(colours), fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.3), ncol=3, frameon=False)
    ax.set_xlabel("seconds")
    fig.suptitle(
        title
        or "each core over time, step by step: how many cores each mode kept busy\n"
        "(the strip above: which mode ran; the number: how many workers at once)",
        fontsize=10,
    )
    return fig


def plot_task_latency(result: SpawnCostResult, *, title: str | None = None) -> Figure:
    """Each mode's task latencies as a box plot with the points on top, on a log scale."""
    data = result.latencies
    modes = labels_in_order(data["mode"])
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.7 * len(modes)))
    groups = [data.loc[data["mode"] == m, "latency_ms"].to_numpy() for m in modes]
    ax.boxplot(groups, vert=False, showfliers=False, widths=0.5)
    for i, values in enumerate(groups, start=1):
        ax.scatter(values, [i] * len(values), s=6, alpha=0.4, color="tab:blue")
        ax.annotate(f"median {pd.Series(values).median():.3g} ms", (values.max(), i), xytext=(6, 0),
                    textcoords="offset points", va="center", fontsize=8)  # fmt: skip
    ax.set_yticks(range(1, len(modes) + 1), modes)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(right=data["latency_ms"].max() * 20)
    ax.set_xlabel("task latency, ms (log scale): ask for it -> hold its result")
    ax.grid(alpha=0.3, axis="x", which="both")
    medians = {m: float(pd.Series(g).median()) for m, g in zip(modes, groups, strict=True)}
    fast, slow = min(medians, key=medians.__getitem__), max(medians, key=medians.__getitem__)
    ax.set_title(
        title
        or f"a tiny task's median latency: {medians[fast]:.2g} ms ({fast}) to {medians[slow]:.3g} ms ({slow}),"
        f" {medians[slow] / medians[fast]:,.0f}x",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def plot_shared_counter(result: CounterResult, *, title: str | None = None) -> Figure:
    """Counted vs expected per mode, and the time per increment (log scale)."""
    table = result.table
    fig, (ax_c, ax_t) = plt.subplots(1, 2, figsize=(11, 3.6))
    expected = int(table["expected"].iloc[0])
    colours = ["tab:red" if lost else "tab:green" for lost in table["lost"]]
    bars = ax_c.bar(table["mode"], table["counted"], color=colours)
    ax_c.axhline(expected, color="k", ls="--", lw=1, label=f"expected {expected:,}")
    label_bars(
        ax_c,
        bars,
        (f"lost {r.lost:,}\n({r.lost_pct:.0f}%)" if r.lost else "exact" for r in table.itertuples()),
        fontsize=8,
    )
    ax_c.set_ylim(0, expected * 1.3)
    ax_c.set_ylabel("final count")
    ax_c.legend(fontsize=8, loc="lower right")
    ax_c.set_title(f"{int(table['processes'].iloc[0])} processes, one shared counter", fontsize=10)
    bars = ax_t.bar(table["mode"], table["ns_per_op"], color="tab:purple")
    label_bars(ax_t, bars, (f"{v:.0f} ns" for v in table["ns_per_op"]), fontsize=8)
    ax_t.set_yscale("log")
    ax_t.set_ylim(top=table["ns_per_op"].max() * 5)
    ax_t.set_ylabel("ns per increment (log)")
    ax_t.set_title("what exactness costs", fontsize=10)
    claim = "; ".join(
        f"{r.mode} " + (f"lost {r.lost_pct:.0f}%" if r.lost else "exact") + f" at {r.ns_per_op:.0f} ns an increment"
        for r in table.itertuples()
    )
    fig.suptitle(title or f"one counter, {int(table['processes'].iloc[0])} processes: {claim}", fontsize=11)
    fig.tight_layout()
    return fig
