"""Chat figures: how many messages arrived, how fast, where clients connected, and an outage."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from corelab.lessons.chat import PERCENTILES, delivery, delivery_history, handshakes, outages
from corelab.plots.common import label_bars, labels_in_order, per_worker_panels
from corelab.results import Runs

COLORS = {"same worker": "tab:green", "other worker": "tab:orange", "all": "tab:blue", "handshakes": "tab:red"}


def plot_delivery(runs: Runs, *, title: str | None = None) -> Figure:
    """Per run: the share of messages delivered (to the sender's worker, to another, in all),
    and the share of Socket.IO handshakes that failed."""
    table = delivery(runs)
    shakes = handshakes(runs).set_index("run")
    labels = labels_in_order(table["label"])
    runs_order = labels_in_order(table["run"])
    groups = ["same worker", "other worker", "all", "handshakes"]
    width = 0.8 / len(groups)
    x = np.arange(len(runs_order))
    fig, ax = plt.subplots(figsize=(max(8, 2.8 * len(runs_order)), 4.2))
    for i, group in enumerate(groups):
        if group == "handshakes":
            values = [shakes.loc[r, "failed_ratio"] * 100 if r in shakes.index else np.nan for r in runs_order]
            name = "handshakes failed"
        else:
            part = table[table["recipients"] == group].set_index("run")
            values = [part.loc[r, "ratio"] * 100 if r in part.index else np.nan for r in runs_order]
            name = f"delivered: {group}"
        bars = ax.bar(x + (i - 1.5) * width, values, width, label=name, color=COLORS[group])
        label_bars(ax, bars, ("" if np.isnan(v) else f"{v:.0f}%" for v in values), fontsize=8)
    ax.set_xticks(x, labels, fontsize=9)
    ax.set_ylabel("% of messages (or handshakes)")
    ax.set_ylim(0, 130)
    ax.legend(fontsize=8, ncol=2, loc="upper center")
    ax.set_title(title or "chat: messages delivered, by where the recipient sits", fontsize=11)
    fig.tight_layout()
    return fig


def plot_delivery_latency(runs: Runs, *, title: str | None = None) -> Figure:
    """Delivery latency percentiles (p50 to p99.9) per run and recipients, for delivered messages."""
    table = delivery(runs)
    table = table[(table["recipients"] != "all") & table["p50_ms"].notna()]
    cols = list(PERCENTILES.values())
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for row in table.itertuples():
        ax.plot(
            [c.removesuffix("_ms").replace("_", ".") for c in cols],
            [getattr(row, c) for c in cols],
            marker="o",
            label=f"{row.label}: {row.recipients}",
            color=None,
        )
    ax.set_ylabel("delivery latency, ms")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title or "chat: delivery latency of the messages that arrived", fontsize=11)
    fig.tight_layout()
    return fig


def plot_connections_per_worker(runs: Runs, *, title: str | None = None) -> Figure:
    """How many Socket.IO connections each worker accepted (from the welcome event), per run."""
    fig = per_worker_panels(
        runs.workers,
        labels_in_order(runs.summary["label"]),
        "responses",
        ylabel="connections",
        color="tab:purple",
        width=3.4,
    )
    fig.suptitle(title or "chat: connections per worker", fontsize=11)
    fig.tight_layout()
    return fig


def plot_delivery_over_time(runs: Runs, *, title: str | None = None) -> Figure:
    """Deliveries and losses per second, by recipients; a staged Redis outage is shaded."""
    history = delivery_history(runs)
    labels = labels_in_order(runs.summary["label"])
    fig, axes = plt.subplots(len(labels), 1, figsize=(10, 3.2 * len(labels)), squeeze=False)
    downs = outages(runs)
    for ax, label in zip(axes[:, 0], labels, strict=False):
        data = history[history["label"] == label]
        for recipients, part in data.groupby("recipients"):
            color = COLORS.get(str(recipients), "tab:blue")
            ax.plot(part["t"], part["delivered"], color=color, label=f"delivered: {recipients}")
            ax.plot(part["t"], part["lost"], color=color, linestyle="--", label=f"lost: {recipients}")
        for row in downs[downs["label"] == label].itertuples():
            ax.axvspan(row.down_t, row.up_t, color="tab:red", alpha=0.15, label="Redis down")
        ax.set_ylabel("messages / s")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=3)
        ax.set_title(label, fontsize=10)
    axes[-1, 0].set_xlabel("seconds")
    fig.suptitle(title or "chat: deliveries and losses over time", fontsize=11)
    fig.tight_layout()
    return fig
