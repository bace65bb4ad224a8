"""Shared-state figures: the rate limit as enforced, and the visit counter as each worker reads it."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from corelab.figures.common import label_bars
from corelab.harness.results import Runs
from corelab.lessons.shared_state.outcome import counter_reads, shared_state_table


def plot_shared_state(runs: Runs, *, title: str | None = None) -> Figure:
    """Left: requests a client got through per window, against the limit. Right: the counter vs the truth."""
    table = shared_state_table(runs)
    reads = counter_reads(runs)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.8))

    colors = ["tab:red" if abs(t - 1) > 0.05 else "tab:green" for t in table["times_limit"]]
    bars = left.bar(table["label"], table["admitted_mean"], color=colors)
    label_bars(left, bars, (f"{r.admitted_mean:.1f}\n({r.times_limit:.2f}x the limit)" for r in table.itertuples()))
    limit = int(table["limit"].iloc[0])
    left.axhline(limit, color="black", linestyle="--", linewidth=1, label=f"intended limit: {limit}")
    left.legend(fontsize=8, loc="upper right")
    left.set_ylabel(f"admitted per client per {table['window_s'].iloc[0]:g} s window")
    left.set_ylim(0, max(table["admitted_max"].max(), limit) * 1.35)
    left.set_title("the rate limit, as enforced", fontsize=10)
    left.tick_params(axis="x", labelsize=8)

    labels = list(table["label"])
    width = 0.8
    for i, row in enumerate(table.itertuples()):
        per_worker = reads[reads["run"] == row.run].drop_duplicates("pid").sort_values("pid")
        n = len(per_worker) + 1
        step = width / n
        x0 = i - width / 2 + step / 2
        right.bar(
            x0, row.visits_answered, step, color="tab:gray", label="visits answered (the truth)" if i == 0 else None
        )
        right.annotate(f"{row.visits_answered}", (x0, row.visits_answered), ha="center", va="bottom", fontsize=8)
        for j, read in enumerate(per_worker.itertuples(), start=1):
            ok = read.visits == row.visits_answered
            right.bar(
                x0 + j * step,
                read.visits,
                step,
                color="tab:green" if ok else "tab:red",
            )
            right.annotate(
                f"worker {j}\n{read.visits}", (x0 + j * step, read.visits), ha="center", va="bottom", fontsize=8
            )
    right.set_xticks(range(len(labels)), labels, fontsize=8)
    right.set_ylabel("visits")
    right.set_title("the visit counter, against the truth", fontsize=10)
    right.set_ylim(0, float(table["visits_answered"].max()) * 1.3)
    handles = [
        Patch(color="tab:gray", label="visits answered (the truth)"),
        Patch(color="tab:green", label="a worker's counter: right"),
        Patch(color="tab:red", label="a worker's counter: wrong"),
    ]
    right.legend(handles=handles, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)

    claim = "; ".join(
        f"{r.state}: {r.times_limit:.2f}x the limit let through, the counter "
        + ("right" if (reads[reads["run"] == r.run]["visits"] == r.visits_answered).all() else "wrong")
        for r in table.itertuples()
    )
    fig.suptitle(title or f"state in each worker's memory vs in Redis\n{claim}", fontsize=11)
    fig.tight_layout()
    return fig
