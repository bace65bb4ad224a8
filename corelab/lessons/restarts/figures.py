"""Restarts under load: throughput, failures and which workers served, second by second."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from corelab.figures.common import labels_in_order
from corelab.lessons.restarts.under_load import RestartRuns


def plot_restarts(runs: RestartRuns, *, title: str | None = None) -> Figure:
    """Per run: throughput and failures per second (top), and which worker pid served when (bottom)."""
    labels = labels_in_order(runs.summary["label"])
    fig, axes = plt.subplots(
        2, len(labels), figsize=(5 * len(labels), 5.5), sharex=True, squeeze=False, height_ratios=[3, 2]
    )
    for col, label in enumerate(labels):
        top, bottom = axes[0][col], axes[1][col]
        history = runs.history[(runs.history["label"] == label) & (runs.history["t"] >= 0)]
        served = (history["rps"] - history["failures_per_s"]).clip(lower=0)
        top.plot(history["t"], served, color="tab:blue", label="requests served / s")
        top.bar(history["t"], history["failures_per_s"], width=0.9, color="tab:red", label="requests failed / s")
        row = runs.summary[runs.summary["label"] == label].iloc[0]
        top.set_title(f"{label}\n{row.failures} of {row.requests} failed", fontsize=10)
        top.set_ylim(bottom=0)
        top.grid(alpha=0.3)
        timeline = runs.timeline[runs.timeline["label"] == label]
        pids = sorted(timeline["pid"].unique(), key=lambda p: timeline[timeline["pid"] == p]["t"].min())
        for y, pid in enumerate(pids):
            by_pid = timeline[timeline["pid"] == pid]
            size = 12 + 60 * by_pid["responses"] / by_pid["responses"].max()
            bottom.scatter(by_pid["t"] + 0.5, [y] * len(by_pid), s=size, color=f"C{y % 10}", marker="s")
        bottom.set_yticks(range(len(pids)), [f"pid {p}" for p in pids], fontsize=8)
        bottom.set_ylim(-0.6, len(pids) - 0.4)
        bottom.set_xlabel("seconds")
        bottom.grid(alpha=0.3)
        for event in runs.events[runs.events["label"] == label].itertuples():
            for ax in (top, bottom):
                ax.axvline(event.t, color="black", ls="--", lw=1)
    axes[0][0].set_ylabel("per second")
    axes[0][0].legend(fontsize=8, loc="lower left")
    axes[1][0].set_ylabel("which worker served\n(square: its responses that second)")
    failed = ", ".join(f"{r.label} {r.failures}" for r in runs.summary.itertuples())
    fig.suptitle(title or f"requests that failed when the signal came (dashed): {failed}", fontsize=11)
    fig.tight_layout()
    return fig
