"""Figures for the cluster's lifecycle: how policies share out work, and restarts under load."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from corelab.lessons.lifecycle import CLIENTS, Balance, RestartRuns
from corelab.plots.common import labels_in_order


def plot_balance(result: Balance, *, title: str | None = None) -> Figure:
    """Per-worker share of requests (bars) and of connections (dots), per policy and kind of client."""
    kinds = labels_in_order(result.shares["clients"])
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 3.8), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        shares = result.shares[result.shares["clients"] == kind]
        policies = labels_in_order(shares["policy"])
        width = 0.8 / max(1, shares.groupby("policy").size().max())
        for x, policy in enumerate(policies):
            workers = shares[shares["policy"] == policy].sort_values("request_share", ascending=False)
            for j, w in enumerate(workers.itertuples()):
                pos = x - 0.4 + width * (j + 0.5)
                ax.bar(pos, w.request_share, width * 0.9, color=f"C{j}")
                ax.plot(pos, w.connection_share, "k_", markersize=14, markeredgewidth=2)
            row = result.summary[(result.summary["clients"] == kind) & (result.summary["policy"] == policy)].iloc[0]
            ax.text(x, 1.02, f"max/min {row.requests_max_min:.2f}", ha="center", fontsize=8)
        ax.axhline(1 / max(1, shares.groupby("policy").size().max()), color="gray", ls=":", lw=1)
        ax.set_xticks(range(len(policies)), policies)
        ax.set_ylim(0, 1.1)
        ax.set_title(CLIENTS.get(kind, kind), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("share per worker\n(bars: requests, dashes: connections)")
    fig.suptitle(title or "who gets the connection: each bar is one worker", fontsize=11)
    fig.tight_layout()
    return fig


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
        top.plot(history["t"], served, color="tab:blue", label="served/s")
        top.bar(history["t"], history["failures_per_s"], width=0.9, color="tab:red", label="failures/s")
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
        bottom.set_yticks(range(len(pids)), [str(p) for p in pids], fontsize=7)
        bottom.set_xlabel("seconds")
        bottom.grid(alpha=0.3)
        for event in runs.events[runs.events["label"] == label].itertuples():
            for ax in (top, bottom):
                ax.axvline(event.t, color="black", ls="--", lw=1)
    axes[0][0].set_ylabel("per second")
    axes[0][0].legend(fontsize=8, loc="lower left")
    axes[1][0].set_ylabel("worker pid serving")
    fig.suptitle(title or "restarts under load (dashed: the signal)", fontsize=11)
    fig.tight_layout()
    return fig
