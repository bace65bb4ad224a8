"""Throughput figures: over time, by variant, and how requests were shared among workers."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from corelab.plots.common import label_bars, labels_in_order, per_worker_panels
from corelab.results import Runs


def plot_throughput(runs: Runs, *, title: str | None = None) -> Figure:
    """Requests per second over time (Locust's once-a-second reading), one line per run."""
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for label, data in runs.history.groupby("label", sort=False):
        data = data[data["users"] > 0]
        ax.plot(data["t"], data["rps"], label=label, marker=".")
    ax.set_xlabel("seconds")
    ax.set_ylabel("requests / s")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "throughput over time", fontsize=11)
    fig.tight_layout()
    return fig


def plot_throughput_by_variant(runs: Runs, *, title: str | None = None) -> Figure:
    """One bar per run, labelled with its speed-up over the first run.

    A generator-bound run is hatched: its height is the load generator's limit, not the server's.
    """
    summary = runs.summary
    fig, ax = plt.subplots(figsize=(max(5, 1.8 * len(summary)), 3.8))
    base = summary["rps"].iloc[0]
    bars = ax.bar(summary["label"], summary["rps"], color="tab:blue")
    for bar, row in zip(bars, summary.itertuples(), strict=True):
        if row.generator_bound:
            bar.set_hatch("//")
            bar.set_color("tab:gray")
    label_bars(
        ax,
        bars,
        (
            f"{row.rps:.0f}/s\n{row.rps / base:.2f}x" + ("\ngenerator-bound" if row.generator_bound else "")
            for row in summary.itertuples()
        ),
    )
    ax.set_ylabel("requests / s")
    ax.set_ylim(0, summary["rps"].max() * 1.3)
    ax.set_title(title or f"throughput, {summary['scenario'].iloc[0]} scenario", fontsize=11)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def plot_requests_per_worker(runs: Runs, *, title: str | None = None) -> Figure:
    """How many responses each worker gave, per run (from the X-Worker-Pid header)."""
    fig = per_worker_panels(
        runs.workers,
        labels_in_order(runs.workers["label"]),
        "share",
        ylabel="% of responses",
        color="tab:green",
        scale=100,
        ylim=(0, 100),
    )
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
