"""Small pieces every figure module uses: run order, bar labels, worker names, the measured window,
the one-core limit (the scenarios' own: corelab.harness.scenarios), and one panel per run of
per-worker bars."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from corelab.harness.scenarios import one_core_rps, users_limit_rps
from corelab.harness.shares import measured_window

__all__ = [
    "GENERATOR_BUSY_PCT",
    "NAMED_WORKERS",
    "label_bars",
    "labels_in_order",
    "measured_window",
    "one_core_rps",
    "per_worker_panels",
    "users_limit_rps",
    "worker_names",
]

# Up to this many workers a per-worker panel names each bar; beyond, it shows bars alone.
NAMED_WORKERS = 12
# The load generator's samples above this share of a core are marked on the core heatmaps.
GENERATOR_BUSY_PCT = 50.0


def labels_in_order(values: Iterable[str]) -> list[str]:
    """Each distinct value once, in the order first seen (runs stay in the order they ran)."""
    return list(dict.fromkeys(values))


def label_bars(
    ax: Axes, bars: BarContainer, texts: Iterable[str], *, fontsize: float = 9, inside: bool = False
) -> None:
    """Write each text just above its bar (``inside``: in white, just under its top, where no
    reference line crosses it); an empty text leaves the bar unlabelled."""
    for bar, text in zip(bars, texts, strict=True):
        if text:
            ax.annotate(
                text,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                xytext=(0, -4 if inside else 0),
                textcoords="offset points",
                ha="center",
                va="top" if inside else "bottom",
                fontsize=fontsize,
                color="white" if inside else "black",
                fontweight="bold" if inside else "normal",
            )


def worker_names(pids: Iterable[int]) -> dict[int, str]:
    """``worker 1 (pid 18744)``, ``worker 2 ...``: numbered in pid order, so a student can say which one.
    A negative pid stands for a worker that served nothing and so never named itself: "idle"."""
    real = sorted({p for p in pids if p >= 0})
    names = {pid: f"worker {n} (pid {pid})" for n, pid in enumerate(real, start=1)}
    names.update({pid: "idle" for pid in set(pids) if pid < 0})
    return names


def per_worker_panels(
    workers: pd.DataFrame,
    labels: Sequence[str],
    column: str,
    *,
    ylabel: str,
    color: str,
    width: float = 3.5,
    scale: float = 1.0,
    ylim: tuple[float, float] | None = None,
    unit: str = "",
    even: float | None = None,
) -> Figure:
    """One panel per run label: a bar per worker with ``column`` (times ``scale``) as its height,
    each bar labelled with its value; ``even`` draws the even share as a dashed line."""
    n = max(1, len(labels))
    most = max((int((workers["label"] == label).sum()) for label in labels), default=1)
    # Wider panels for many workers, up to a figure that still fits a notebook's width.
    width = min(max(width, 0.16 * most), 16.0 / n if n > 1 else 16.0)
    fig, axes = plt.subplots(1, n, figsize=(width * n, 3.4), squeeze=False, sharey=True)
    for ax, label in zip(axes[0], labels, strict=False):
        data = workers[workers["label"] == label].sort_values("pid", key=lambda p: p.where(p >= 0, p.max() + 1 - p))
        names = worker_names(data["pid"])
        values = data[column] * scale
        positions = range(len(data))
        bars = ax.bar(positions, values, color=color)
        if len(data) <= NAMED_WORKERS:
            ax.set_xticks(positions, [names[p].replace(" (", "\n(") for p in data["pid"]])
            label_bars(ax, bars, (f"{v:.0f}{unit}" for v in values), fontsize=9, inside=True)
        else:  # too many to name: count them, and let the even-share line show the spread
            idle = int((data[column] == 0).sum())
            ax.set_xticks([])
            ax.set_xlabel(f"{len(data)} workers, in pid order" + (f" ({idle} idle, at the right)" if idle else ""))
        if even is not None and len(data) > 1:
            ax.axhline(even / len(data), color="black", ls="--", lw=1, label="an even share")
            ax.legend(fontsize=8, loc="upper right")
        ax.set_title(label, fontsize=10)
        ax.tick_params(axis="x", labelsize=9)
        ax.grid(axis="y", alpha=0.3)
        if ylim is not None:
            ax.set_ylim(*ylim)
    axes[0, 0].set_ylabel(ylabel)
    return fig
