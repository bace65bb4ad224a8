"""The chat over time: deliveries and losses each second, and a staged Redis outage on them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from corelab.figures.common import labels_in_order
from corelab.harness.chat_results import delivery_history
from corelab.harness.results import Runs
from corelab.lessons.chat.claims import outage_summary
from corelab.lessons.chat.figures import MESSAGE_PARTS
from corelab.lessons.chat.outage import outages


def outage_title(runs: Runs) -> str:
    """The claim, in the first outage's numbers; a plain title when no run staged one."""
    if outages(runs).empty:
        return "deliveries and losses each second"
    o = outage_summary(runs)
    resumed = (
        "delivery across had not resumed by the end of the run"
        if o.resumed_after_s is None
        else f"delivery across resumed {o.resumed_after_s:.1f} s after Redis was back"
    )
    return (
        f"Redis down {o.down_t:.0f}-{o.up_t:.0f} s: the sender's worker kept delivering "
        f"({o.same_worker_lost_during} lost meanwhile);\n{o.other_worker_lost} messages across workers lost, {resumed}"
    )


def plot_delivery_over_time(runs: Runs, *, title: str | None = None) -> Figure:
    """Deliveries and losses per second, by where the room-mate sat; a staged Redis outage is shaded."""
    history = delivery_history(runs)
    labels = labels_in_order(runs.summary["label"])
    fig, axes = plt.subplots(len(labels), 1, figsize=(10, 1.2 + 2.9 * len(labels)), squeeze=False, sharex=True)
    downs = outages(runs)
    for ax, label in zip(axes[:, 0], labels, strict=False):
        data = _per_second(history[(history["label"] == label) & (history["t"] >= 0)])
        for (recipients, arrived), (colour, _hatch, name) in MESSAGE_PARTS.items():
            part = data[data["recipients"] == recipients]
            values = part["delivered" if arrived else "lost"]
            if part.empty or not values.any():
                continue  # a series that never happened gets no line and no legend entry
            ax.plot(part["t"] + 0.5, values, color=colour, ls="-" if arrived else "--", marker=".", label=name)
        for row in downs[downs["label"] == label].itertuples():
            ax.axvspan(row.down_t, row.up_t, color="tab:red", alpha=0.12, label="Redis stopped")
            resumed = outage_summary(runs).resumed_t
            if resumed is not None:
                ax.axvline(resumed, color="tab:blue", ls=":", lw=1.2, label="delivery across workers resumed")
        ax.set_ylabel("messages / s")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.set_title(label, fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("seconds (a loss is drawn at the second its message was sent)")
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="outside lower center", ncol=3, frameon=False)
    fig.suptitle(title or outage_title(runs), fontsize=10)
    fig.set_layout_engine("constrained")
    return fig


def _per_second(history: pd.DataFrame) -> pd.DataFrame:
    """Deliveries and losses summed into whole seconds of the run."""
    binned = history.assign(t=np.floor(history["t"]))
    return binned.groupby(["recipients", "t"], as_index=False)[["delivered", "lost"]].sum()
