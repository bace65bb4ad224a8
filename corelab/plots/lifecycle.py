"""Figures for the cluster's lifecycle: how policies share out work, and restarts under load."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from corelab.lessons.lifecycle import CLIENTS, Balance, RestartRuns
from corelab.plots.common import labels_in_order


def balance_title(result: Balance) -> str:
    """The claim in this run's numbers: the busiest worker's requests over the least busy's, per policy."""
    lines = []
    for kind in labels_in_order(result.summary["clients"]):
        rows = result.summary[result.summary["clients"] == kind]
        ratios = ", ".join(f"{r.policy} {r.requests_max_min:.2f}x" for r in rows.itertuples())
        lines.append(f"{CLIENTS.get(kind, kind)}: {ratios}")
    return "busiest worker's requests over the least busy's (1.00x: even)\n" + "; ".join(lines)


def plot_balance(result: Balance, *, title: str | None = None) -> Figure:
    """Per-worker share of requests (bars) and of connections (diamonds), per policy and kind of client.

    Within a policy the workers are sorted busiest first, and coloured by that rank.
    """
    kinds = labels_in_order(result.shares["clients"])
    most = max(1, int(result.shares.groupby(["clients", "policy"]).size().max()))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4.2), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        shares = result.shares[result.shares["clients"] == kind]
        policies = labels_in_order(shares["policy"])
        width = 0.8 / most
        for x, policy in enumerate(policies):
            workers = shares[shares["policy"] == policy].sort_values("request_share", ascending=False)
            for j, w in enumerate(workers.itertuples()):
                pos = x - 0.4 + width * (j + 0.5)
                ax.bar(pos, w.request_share, width * 0.9, color=f"C{j}")
                share = f"{w.request_share:.0%}"
                # At the bar's foot: its top is where the connections' diamond sits.
                ax.text(pos, 0.02, share, ha="center", va="bottom", fontsize=8, color="white", fontweight="bold")
                ax.plot(pos, w.connection_share, "D", color="white", markeredgecolor="black", markersize=8,
                        markeredgewidth=1.5)  # fmt: skip
            row = result.summary[(result.summary["clients"] == kind) & (result.summary["policy"] == policy)].iloc[0]
            ax.text(x, 1.03, f"busiest / least\n{row.requests_max_min:.2f}x", ha="center", fontsize=8)
        ax.axhline(1 / most, color="gray", ls=":", lw=1.2)
        ax.set_xticks(range(len(policies)), policies)
        ax.set_xlabel("policy: how the cluster hands out connections")
        ax.set_ylim(0, 1.15)
        ax.set_title(CLIENTS.get(kind, kind) + " clients", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("a worker's share")
    handles = [Patch(color=f"C{j}", label=_rank(j, most)) for j in range(most)] + [
        Line2D(
            [],
            [],
            ls="",
            marker="D",
            color="white",
            markeredgecolor="black",
            markersize=8,
            label="that worker's share of the connections",
        ),
        Line2D([], [], ls=":", color="gray", label=f"an even share: 1/{most}"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(title or balance_title(result), fontsize=11)
    fig.set_layout_engine("constrained")
    return fig


def _rank(j: int, n: int) -> str:
    if n == 2:
        return ("the busier worker's share of the requests", "the other worker's")[j]
    return "the busiest worker's share of the requests" if j == 0 else f"the {j + 1}. busiest"


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
