"""Small pieces every figure module uses: run order, bar labels, one panel per run of per-worker bars."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure


def labels_in_order(values: Iterable[str]) -> list[str]:
    """Each distinct value once, in the order first seen (runs stay in the order they ran)."""
    return list(dict.fromkeys(values))


def label_bars(ax: Axes, bars: BarContainer, texts: Iterable[str], *, fontsize: float = 9) -> None:
    """Write each text just above its bar; an empty text leaves the bar unlabelled."""
    for bar, text in zip(bars, texts, strict=True):
        if text:
            ax.annotate(
                text, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=fontsize
            )


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
) -> Figure:
    """One panel per run label: a bar per worker pid with ``column`` (times ``scale``) as its height."""
    n = max(1, len(labels))
    fig, axes = plt.subplots(1, n, figsize=(width * n, 3.2), squeeze=False)
    for ax, label in zip(axes[0], labels, strict=False):
        data = workers[workers["label"] == label]
        ax.bar([str(p) for p in data["pid"]], data[column] * scale, color=color)
        ax.set_title(label, fontsize=10)
        ax.set_xlabel("worker pid")
        ax.tick_params(axis="x", labelsize=7, rotation=30)
        if ylim is not None:
            ax.set_ylim(*ylim)
    axes[0, 0].set_ylabel(ylabel)
    return fig
