"""Chat figures: what happened to each user and to each message, per variant, side by side.

A message is owed once to each room-mate of its sender; ``loadtests/chat.py`` judges each
(message, room-mate) pair delivered or lost, and says whether the room-mate's connection sat on
the sender's worker ("same worker") or another ("other worker").
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from corelab.figures.common import labels_in_order, per_worker_panels, worker_names
from corelab.harness.chat_results import delivery, handshakes
from corelab.harness.results import Runs

# (recipients, delivered?) -> colour, hatch, legend text
MESSAGE_PARTS = {
    ("same worker", True): ("tab:green", "", "delivered to a room-mate on the sender's worker"),
    ("same worker", False): ("#f3a5a5", "//", "lost on the sender's own worker"),
    ("other worker", True): ("tab:blue", "", "delivered to a room-mate on another worker"),
    ("other worker", False): ("tab:red", "", "lost: the room-mate sat on another worker"),
}
NEVER_CONNECTED = "0.55"
WORKER_COLOURS = ("#c7b8e0", "#9e86c8", "#7a5fb0", "#5a3f94")


def delivery_claim(runs: Runs) -> str:
    """One clause per run: the share of messages that arrived, and whether any crossed workers."""
    table = delivery(runs).set_index(["label", "recipients"])
    parts = []
    for label in labels_in_order(runs.summary["label"]):
        every, other = table.loc[(label, "all")], table.loc[(label, "other worker")]
        across = "none across workers" if other.expected and not other.delivered else "across workers too"
        parts.append(f"{label} {every.ratio:.0%} ({across})" if every.expected else f"{label}: no messages")
    return "messages that arrived: " + "; ".join(parts)


def plot_delivery(runs: Runs, *, title: str | None = None) -> Figure:
    """Per run, side by side: each user (connected on which worker, or never) and each message
    owed to a room-mate (same worker / other worker, delivered / lost), as stacked bars."""
    labels = labels_in_order(runs.summary["label"])
    fig, (users_ax, messages_ax) = plt.subplots(
        1, 2, figsize=(13, 2.4 + 0.8 * len(labels)), width_ratios=[1, 1.6], sharey=True
    )
    y = np.arange(len(labels))
    _draw_users(users_ax, runs, labels, y)
    _draw_messages(messages_ax, runs, labels, y)
    users_ax.set_yticks(y, labels, fontsize=10)
    users_ax.set_ylim(len(labels) - 0.2, -0.5)  # top to bottom, with room under the last bar for its note
    fig.suptitle(title or delivery_claim(runs), fontsize=11)
    fig.text(
        0.01,
        0.0,
        "A message is owed to each room-mate of its sender (rooms of 4). What arrives on the sender's worker is"
        " exactly the green share: how the rooms fell across the workers sets it, so it need not be 1/N.",
        fontsize=8,
        color="0.3",
        va="top",
    )
    fig.tight_layout()
    return fig


def _draw_users(ax: Axes, runs: Runs, labels: list[str], y: np.ndarray) -> None:
    shakes = handshakes(runs).set_index("label")
    drawn: set[str] = set()
    for row, label in zip(y, labels, strict=True):
        users = int(runs.summary.loc[runs.summary["label"] == label, "users"].iloc[0])
        workers = runs.workers[runs.workers["label"] == label].sort_values("pid")
        names = worker_names(workers["pid"])
        left = 0
        for n, w in enumerate(workers.itertuples()):
            name = f"connected to worker {n + 1}"
            ax.barh(
                row,
                w.responses,
                height=0.6,
                left=left,
                color=WORKER_COLOURS[n % 4],
                label=None if name in drawn else name,
            )
            drawn.add(name)
            _segment_text(ax, row, left, w.responses, f"{w.responses}", names[w.pid].split(" (")[0])
            left += w.responses
        never = max(0, users - left)
        if never:
            name = "never connected"
            ax.barh(row, never, height=0.6, left=left, color=NEVER_CONNECTED, label=None if name in drawn else name)
            drawn.add(name)
            _segment_text(ax, row, left, never, f"{never}", "never")
        s = shakes.loc[label] if label in shakes.index else None
        failed = "" if s is None or not s.failed else f"{s.failed} of {s.attempts} handshakes failed (retried)"
        ax.annotate(failed or "every handshake succeeded", (0, row + 0.34), fontsize=8, va="top",
                    color="tab:red" if failed else "0.3")  # fmt: skip
        ax.set_xlim(0, max(ax.get_xlim()[1], users * 1.02))
    ax.set_xlabel("Socket.IO users (sessions each worker held)")
    ax.set_title("each user", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)


def _draw_messages(ax: Axes, runs: Runs, labels: list[str], y: np.ndarray) -> None:
    table = delivery(runs).set_index(["label", "recipients"])
    drawn: set[tuple[str, bool]] = set()
    for row, label in zip(y, labels, strict=True):
        total = int(table.loc[(label, "all"), "expected"])
        left = 0.0
        for key, (colour, hatch, name) in MESSAGE_PARTS.items():
            recipients, arrived = key
            part = table.loc[(label, recipients)]
            count = int(part.delivered if arrived else part.lost)
            if not count or not total:
                continue
            pct = 100 * count / total
            ax.barh(row, pct, height=0.6, left=left, color=colour, hatch=hatch, edgecolor="white",
                    label=None if key in drawn else name)  # fmt: skip
            drawn.add(key)
            _segment_text(ax, row, left, pct, f"{count}", f"{pct:.0f}%")
            left += pct
        ax.annotate(f"{total} owed", (100, row + 0.34), ha="right", va="top", fontsize=8, color="0.3")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of the (message, room-mate) pairs owed")
    ax.set_title("each message, per room-mate", fontsize=10)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False)


def _segment_text(ax: Axes, row: float, left: float, width: float, count: str, what: str) -> None:
    """A stacked segment's count and what it is, inside it, when there is room."""
    span = ax.get_xlim()[1] if ax.get_xlim()[1] > 1 else 100
    if width / span > 0.06:
        ax.text(left + width / 2, row, f"{count}\n{what}", ha="center", va="center", fontsize=8, color="black")


def plot_delivery_latency(runs: Runs, *, title: str | None = None) -> Figure:
    """Delivery latency percentiles (p50 to p99.9) per run and recipients, for delivered messages.

    One colour per run; solid for room-mates on the sender's worker, dashed for another worker's.
    """
    table = delivery(runs)
    table = table[(table["recipients"] != "all") & table["p50_ms"].notna()]
    cols = ["p50_ms", "p90_ms", "p99_ms", "p99_9_ms"]
    names = ["p50", "p90", "p99", "p99.9"]
    colours = {label: f"C{n}" for n, label in enumerate(labels_in_order(runs.summary["label"]))}
    fig, ax = plt.subplots(figsize=(9, 3.9))
    for row in table.itertuples():
        values = [getattr(row, c) for c in cols]
        style = "-" if row.recipients == "same worker" else "--"
        ax.plot(names, values, style, marker="o", color=colours[row.label], label=f"{row.label}: {row.recipients}")
        ax.annotate(f"{values[2]:.0f} ms", (2, values[2]), xytext=(4, 4), textcoords="offset points", fontsize=8,
                    va="bottom", color=colours[row.label])  # fmt: skip
    ax.set_ylabel("send to receipt, ms")
    ax.set_xlabel("percentile of the deliveries (lost messages have no latency and are not here)")
    ax.set_ylim(bottom=0, top=max(1.0, float(table[cols].max().max()) if len(table) else 1.0) * 1.2)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    p99 = "; ".join(
        f"{label}: " + ", ".join(f"{r.recipients} {r.p99_ms:.0f} ms" for r in part.itertuples())
        for label, part in table.groupby("label", sort=False)
    )
    ax.set_title(title or f"delivery latency of the messages that arrived, p99:\n{p99}", fontsize=10)
    fig.tight_layout()
    return fig


def plot_connections_per_worker(runs: Runs, *, title: str | None = None) -> Figure:
    """How many Socket.IO sessions each worker held (from the welcome event), per run."""
    labels = labels_in_order(runs.summary["label"])
    fig = per_worker_panels(
        runs.workers, labels, "responses", ylabel="sessions (users connected)", color="#9e86c8", width=3.6, unit=""
    )
    shakes = handshakes(runs).set_index("label")
    for ax, label in zip(fig.axes, labels, strict=False):
        users = int(runs.summary.loc[runs.summary["label"] == label, "users"].iloc[0])
        ax.axhline(users / max(1, len(runs.workers[runs.workers["label"] == label])), color="black", ls="--", lw=1)
        if label in shakes.index and shakes.loc[label, "failed"]:
            s = shakes.loc[label]
            ax.set_title(f"{label}\n{s.failed} of {s.attempts} handshakes failed", fontsize=10, color="tab:red")
        else:
            ax.set_title(f"{label}\nevery handshake succeeded", fontsize=10)
    split = "; ".join(
        f"{label} "
        + " / ".join(str(v) for v in runs.workers[runs.workers["label"] == label].sort_values("pid")["responses"])
        for label in labels
    )
    fig.suptitle(title or f"sessions per worker (dashed: an even split): {split}", fontsize=11)
    fig.tight_layout()
    return fig
