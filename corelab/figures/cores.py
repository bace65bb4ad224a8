"""Per-core utilisation over time: the kit's signature figure.

As High Performance Python draws it: time runs left to right, one row per core, the colour
is how busy that core was (0-100%). One Python process lights one row; a cluster lights all.
The rows are the cores this process may use (plumbing.cores), from 1 to 64 and more: a run's
panel stays under ``MAX_PANEL_IN`` inches however many there are, at most ``MAX_TICKS`` are
named, and above ``LISTED_CORES`` a title sums the cores up (mean, least, most, idle) instead of
listing each.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.image import AxesImage

from corelab.figures.common import GENERATOR_BUSY_PCT, labels_in_order, measured_window
from corelab.harness.results import Runs, run_notes
from corelab.harness.shares import cores_worth, server_on_cores

ROW_IN = 0.45  # a core's row, while there are few
MAX_PANEL_IN = 3.5  # one run's heatmap, however many cores: two runs at 64 cores stay under 12 in
STRIP_IN = 0.7  # the strip beneath each heatmap: the server's, Locust's and the rest's cores' worth
SERVER_COLOUR, GENERATOR_COLOUR, OTHER_COLOUR = "tab:green", "tab:cyan", "0.7"
MAX_FIGURE_IN = 60.0  # every run's panels together (matplotlib refuses images over 65,536 px)
MAX_TICKS = 16  # core names on the y axis; above it every k-th core is named
LISTED_CORES = 8  # up to this many cores, a title lists each one's busy %
IDLE_PCT = 5.0  # a core below this mean busy % over the window counts as idle in a title


def named_rows(n: int) -> list[int]:
    """The rows of an n-core heatmap that get a name: every one, or every k-th (at most MAX_TICKS)."""
    return list(range(0, n, max(1, -(-n // MAX_TICKS))))  # -(-a // b): a / b rounded up


def core_ids(cores: pd.DataFrame) -> list[int]:
    """The cores the samples cover, in order (the usable ones: not always 0..N-1)."""
    return sorted(int(c) for c in cores["core"].unique())


def panel_height(n_cores: int, n_runs: int = 1) -> float:
    """One run's heatmap height in inches: a row per core while few, bounded when many."""
    per_run = min(MAX_PANEL_IN, max(0.9, ROW_IN * n_cores))
    return min(per_run, max(0.6, MAX_FIGURE_IN / max(1, n_runs) - 0.75))


def busy_summary(mean: pd.Series) -> str:
    """How busy the cores were: each named up to LISTED_CORES, summed up beyond."""
    if len(mean) <= LISTED_CORES:
        return ", ".join(f"core {c} {v:.0f}%" for c, v in mean.items()) + " busy"
    idle = int((mean < IDLE_PCT).sum())
    return (
        f"{len(mean)} cores, {mean.mean():.0f}% busy on average (least {mean.min():.0f}%, most {mean.max():.0f}%)"
        + (f", {idle} idle (< {IDLE_PCT:.0f}%)" if idle else ", none idle")
    )


def heatmap_title(runs: Runs) -> str:
    """The claim, in this run's numbers: how many cores' worth of CPU each server used."""
    n_cores = len(core_ids(runs.cores))
    used = ", ".join(f"{r.label} {r.server_cpu_pct / 100:.1f}" for r in runs.summary.itertuples())
    return f"cores' worth of CPU each server used (of {n_cores}): {used}"


def draw_cores(ax: Axes, cores: pd.DataFrame, ids: list[int]) -> AxesImage:
    """One heatmap on ``ax``: time across, a row per core in ``ids`` named "core N", 0-100% busy."""
    table = cores.pivot_table(index="core", columns="t", values="util_pct").reindex(ids)
    t = table.columns.to_numpy()
    n = len(ids)
    extent = (t.min(), t.max(), n - 0.5, -0.5) if len(t) else None
    image = ax.imshow(
        table.to_numpy(), aspect="auto", cmap="inferno", vmin=0, vmax=100, interpolation="nearest", extent=extent
    )
    rows = named_rows(n)
    ax.set_yticks(rows, [f"core {ids[r]}" for r in rows], fontsize=9 if n <= LISTED_CORES else 7)
    return image


def plot_core_heatmap(runs: Runs, *, title: str | None = None) -> Figure:
    """A time x core heatmap for each run, stacked, on one colour scale, each with a strip beneath.

    Each heatmap's title names the cores and what the server and the load generator used in the
    window the req/s was measured in (blue dashes); dots mark where Locust itself kept a core busy;
    a pale veil marks cells busy mostly with something other than the server. The strip says the
    same in cores' worth (corelab.harness.shares): the server's, Locust's and the rest's, stacked.
    One process tops out at 1.0 however the scheduler moved it; N workers at N.
    """
    labels = labels_in_order(runs.summary["label"])
    ids = core_ids(runs.cores)
    worth = cores_worth(runs)
    on_cores = server_on_cores(runs)
    panel = panel_height(len(ids), len(labels))
    fig, axes = plt.subplots(
        2 * len(labels),
        1,
        figsize=(10, 1.1 + (panel + STRIP_IN + 0.9) * len(labels)),
        squeeze=False,
        sharex=True,
        layout="constrained",
        height_ratios=[h for _ in labels for h in (panel, STRIP_IN)],
    )
    image = None
    generator_marked = window_marked = veiled = False
    for n, label in enumerate(labels):
        ax, strip = axes[2 * n, 0], axes[2 * n + 1, 0]
        cores = runs.cores[runs.cores["label"] == label]
        image = draw_cores(ax, cores, ids)
        veiled |= _veil_what_was_not_the_server(ax, image, cores, on_cores[on_cores["label"] == label], ids)
        window = measured_window(runs, label)
        if window is not None:
            for edge in window:
                ax.axvline(edge, color="deepskyblue", ls="--", lw=1.5)
                strip.axvline(edge, color="deepskyblue", ls="--", lw=1.0)
            window_marked = True
            cores = cores[(cores["t"] >= window[0]) & (cores["t"] <= window[1])]
        generator_marked |= _mark_generator(ax, runs, label, ids)
        mean = cores.groupby("core")["util_pct"].mean()
        row = runs.summary[runs.summary["label"] == label].iloc[0]
        busy = busy_summary(mean)
        honesty = run_notes(row).replace("!", "")  # generator-bound, users-bound, idle workers
        ax.set_title(
            f"{label}: {busy}; the server used {row.server_cpu_pct:.0f}% of a core, "
            f"Locust {row.generator_cpu_pct:.0f}%" + (f"; {honesty.replace(' ', ', ', 1)}" if honesty else ""),
            fontsize=9,
            loc="left",
            color="firebrick" if honesty else "black",
        )
        _draw_strip(strip, worth[worth["label"] == label], len(ids), int(row.workers), legend=n == 0)
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
    if veiled:
        notes.append(
            "pale veil: a core busy mostly with something other than the server (Locust, a browser, the kernel)"
        )
    notes.append(
        "under each heatmap, cores' worth per sample: the scheduler may move a process between cores, "
        "but it never runs on two at once"
    )
    if notes:
        fig.text(0.0, 0.0, "\n".join(notes), fontsize=8, color="0.3", va="top", transform=fig.transFigure)
    fig.suptitle(title or heatmap_title(runs), fontsize=11)
    return fig


def _draw_strip(ax: Axes, worth: pd.DataFrame, n_cores: int, workers: int, *, legend: bool) -> None:
    """The server's, Locust's and everything else's CPU, stacked, in cores' worth; a dashed line at the
    server's own ceiling (its workers, or the cores where fewer)."""
    ax.stackplot(
        worth["t"],
        worth["server"],
        worth["generator"],
        worth["other"],
        colors=[SERVER_COLOUR, GENERATOR_COLOUR, OTHER_COLOUR],
        labels=["the server", "Locust", "everything else"],
        linewidth=0,
    )
    ceiling = min(workers, n_cores)
    ax.axhline(ceiling, color="black", ls="--", lw=0.8)
    # Scaled to what this run used, not to the machine: one process on 64 cores still reads as 1.0.
    top = max(float(ceiling), float(worth["busy"].max()) if len(worth) else 0.0)
    ax.set_ylim(0, top * 1.5)  # headroom for the legend, above the data
    ax.set_yticks(sorted({0, ceiling, round(top)}))
    ax.set_ylabel("cores", fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    if legend:
        ax.legend(fontsize=7, loc="upper right", ncol=3, frameon=False, borderaxespad=0.1)


def _veil_what_was_not_the_server(
    ax: Axes, image: AxesImage, cores: pd.DataFrame, on_cores: pd.DataFrame, ids: list[int]
) -> bool:
    """A pale veil over each sample of a core that was busy (>= 30%) mostly with something other than the
    server (less than half of it the server's, by the core each server process last ran on)."""
    if on_cores.empty or cores.empty:
        return False
    busy = cores.pivot_table(index="core", columns="t", values="util_pct").reindex(ids)
    server = on_cores.pivot_table(index="core", columns="t", values="server_pct").reindex(
        index=ids, columns=busy.columns
    )
    foreign = (busy.to_numpy() >= 30) & (server.fillna(0.0).to_numpy() < busy.to_numpy() / 2)
    if not foreign.any():
        return False
    veil = np.zeros((*foreign.shape, 4))
    veil[foreign] = (0.85, 0.9, 1.0, 0.6)
    ax.imshow(veil, aspect="auto", interpolation="nearest", extent=image.get_extent())
    return True


def _mark_generator(ax: Axes, runs: Runs, label: str, ids: list[int]) -> bool:
    """A dot on each (time, core) where the load generator was busy; True when there was one."""
    procs = runs.procs[(runs.procs["label"] == label) & (runs.procs["group"] == "generator")]
    busy = procs.groupby(["t", "core"], as_index=False)["cpu_pct"].sum()
    row = {core: i for i, core in enumerate(ids)}  # a core's id -> its row
    busy = busy[(busy["cpu_pct"] > GENERATOR_BUSY_PCT) & busy["core"].isin(row)]
    if busy.empty:
        return False
    ax.scatter(busy["t"], busy["core"].map(row), s=16, color="tab:cyan", edgecolors="black", linewidths=0.4, zorder=3)
    return True


def plot_cores(runs: Runs, *, title: str | None = None) -> Figure:
    """The figure a notebook shows first: per-core heatmaps of every run."""
    return plot_core_heatmap(runs, title=title)
