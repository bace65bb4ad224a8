"""Per-core utilisation over time: the kit's signature figure.

As High Performance Python draws it: time runs left to right, one row per core, the colour
is how busy that core was (0-100%). One Python process lights one row; a cluster lights all.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from corelab.figures.common import GENERATOR_BUSY_PCT, labels_in_order, measured_window
from corelab.harness.results import Runs


def heatmap_title(runs: Runs) -> str:
    """The claim, in this run's numbers: how many cores' worth of CPU each server used."""
    n_cores = int(runs.cores["core"].max()) + 1
    used = ", ".join(f"{r.label} {r.server_cpu_pct / 100:.1f}" for r in runs.summary.itertuples())
    return f"cores' worth of CPU each server used (of {n_cores}): {used}"


def draw_cores(ax: Axes, cores: pd.DataFrame, n_cores: int) -> AxesImage:
    """One heatmap on ``ax``: time across, a row per core named "core N", 0-100% busy."""
    table = cores.pivot_table(index="core", columns="t", values="util_pct").reindex(range(n_cores))
    t = table.columns.to_numpy()
    extent = (t.min(), t.max(), n_cores - 0.5, -0.5) if len(t) else None
    image = ax.imshow(
        table.to_numpy(), aspect="auto", cmap="inferno", vmin=0, vmax=100, interpolation="nearest", extent=extent
    )
    ax.set_yticks(range(n_cores), [f"core {c}" for c in range(n_cores)])
    return image


def plot_core_heatmap(runs: Runs, *, title: str | None = None) -> Figure:
    """A time x core heatmap for each run, stacked, on one colour scale.

    Each row's title names the cores and what the server and the load generator used in the window
    the req/s was measured in (white dashes); dots mark where Locust itself kept a core busy.
    """
    labels = labels_in_order(runs.summary["label"])
    n_cores = int(runs.cores["core"].max()) + 1
    fig, axes = plt.subplots(
        len(labels),
        1,
        figsize=(10, 1.1 + (0.45 * n_cores + 0.75) * len(labels)),
        squeeze=False,
        sharex=True,
        layout="constrained",
    )
    image = None
    generator_marked = window_marked = False
    for ax, label in zip(axes[:, 0], labels, strict=True):
        cores = runs.cores[runs.cores["label"] == label]
        image = draw_cores(ax, cores, n_cores)
        window = measured_window(runs, label)
        if window is not None:
            for edge in window:
                ax.axvline(edge, color="deepskyblue", ls="--", lw=1.5)
            window_marked = True
            cores = cores[(cores["t"] >= window[0]) & (cores["t"] <= window[1])]
        generator_marked |= _mark_generator(ax, runs, label)
        mean = cores.groupby("core")["util_pct"].mean()
        row = runs.summary[runs.summary["label"] == label].iloc[0]
        busy = ", ".join(f"core {c} {v:.0f}%" for c, v in mean.items())
        ax.set_title(
            f"{label}: {busy} busy; the server used {row.server_cpu_pct:.0f}% of a core, "
            f"Locust {row.generator_cpu_pct:.0f}%",
            fontsize=9,
            loc="left",
        )
    axes[-1, 0].set_xlabel("seconds")
    if image is not None:
        fig.colorbar(image, ax=axes[:, 0], label="core busy, %", fraction=0.03, pad=0.02)
    notes = []
    if window_marked:
        notes.append(
            "between the blue dashes: the window that req/s and the busy % in each row's title were measured in"
        )
    if generator_marked:
        notes.append(
            f"dots: Locust (the load generator) using > {GENERATOR_BUSY_PCT:.0f}% of that core: "
            "starting up (importing, spawning its users) and writing its results at the end"
        )
    if notes:
        fig.text(0.0, 0.0, "\n".join(notes), fontsize=8, color="0.3", va="top", transform=fig.transFigure)
    fig.suptitle(title or heatmap_title(runs), fontsize=11)
    return fig


def _mark_generator(ax: Axes, runs: Runs, label: str) -> bool:
    """A dot on each (time, core) where the load generator was busy; True when there was one."""
    procs = runs.procs[(runs.procs["label"] == label) & (runs.procs["group"] == "generator")]
    busy = procs.groupby(["t", "core"], as_index=False)["cpu_pct"].sum()
    busy = busy[busy["cpu_pct"] > GENERATOR_BUSY_PCT]
    if busy.empty:
        return False
    ax.scatter(busy["t"], busy["core"], s=16, color="tab:cyan", edgecolors="black", linewidths=0.4, zorder=3)
    return True


def plot_cores(runs: Runs, *, title: str | None = None) -> Figure:
    """The figure a notebook shows first: per-core heatmaps of every run."""
    return plot_core_heatmap(runs, title=title)
