"""Per-core utilisation over time: the kit's signature figure.

As High Performance Python draws it: time runs left to right, one row per core, the colour
is how busy that core was (0-100%). One Python process lights one row; a cluster lights all.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from corelab.plots.common import labels_in_order
from corelab.results import Runs


def plot_core_heatmap(runs: Runs, *, title: str | None = None) -> Figure:
    """A time x core heatmap for each run, stacked, on one colour scale."""
    labels = labels_in_order(runs.summary["label"])
    n_cores = int(runs.cores["core"].max()) + 1
    fig, axes = plt.subplots(
        len(labels),
        1,
        figsize=(10, 0.6 + (0.45 * n_cores + 0.7) * len(labels)),
        squeeze=False,
        sharex=True,
        layout="constrained",
    )
    image = None
    for ax, label in zip(axes[:, 0], labels, strict=True):
        table = runs.cores[runs.cores["label"] == label].pivot_table(index="core", columns="t", values="util_pct")
        t = table.columns.to_numpy()
        extent = (t.min(), t.max(), n_cores - 0.5, -0.5) if len(t) else None
        image = ax.imshow(
            table.to_numpy(), aspect="auto", cmap="inferno", vmin=0, vmax=100, interpolation="nearest", extent=extent
        )
        ax.set_yticks(range(n_cores), [f"core {c}" for c in range(n_cores)])
        mean = runs.cores[runs.cores["label"] == label].groupby("core")["util_pct"].mean()
        ax.set_title(f"{label}: mean per core " + ", ".join(f"{v:.0f}%" for v in mean), fontsize=10, loc="left")
    axes[-1, 0].set_xlabel("seconds")
    if image is not None:
        fig.colorbar(image, ax=axes[:, 0], label="core utilisation %", fraction=0.03, pad=0.02)
    if title:
        fig.suptitle(title)
    return fig


def plot_cores(runs: Runs, *, title: str | None = None) -> Figure:
    """The figure a notebook shows first: per-core heatmaps of every run."""
    return plot_core_heatmap(runs, title=title)
