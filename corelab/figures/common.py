"""Small pieces every figure module uses: run order, bar labels, worker names, the measured window,
the one-core limit, and one panel per run of per-worker bars."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from corelab.harness.results import Runs
from corelab.harness.scenarios import SCENARIOS

# Closed-loop scenarios whose every request costs the server this many ms of pure-Python CPU:
# one process (one core's worth of GIL) serves at most 1000 / ms of them a second.
CPU_MS_PER_REQUEST = {"cpu": 10, "cpu_no_retry": 10, "burst": 10}
# Closed-loop scenarios whose every request waits this many ms without CPU: U users can ask for
# at most U * 1000 / ms requests a second, however many cores serve them.
WAIT_MS_PER_REQUEST = {"io": 50}
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


def one_core_rps(scenario: str) -> float | None:
    """The most requests a second one core can serve in ``scenario``, or None where CPU is not the limit."""
    ms = CPU_MS_PER_REQUEST.get(scenario)
    return 1000 / ms if ms else None


def users_limit_rps(scenario: str, users: int) -> float | None:
    """The most requests a second ``users`` closed-loop users can ask for in ``scenario``, or None."""
    ms = WAIT_MS_PER_REQUEST.get(scenario)
    return users * 1000 / ms if ms else None


def worker_names(pids: Iterable[int]) -> dict[int, str]:
    """``worker 1 (pid 18744)``, ``worker 2 ...``: numbered in pid order, so a student can say which one."""
    return {pid: f"worker {n} (pid {pid})" for n, pid in enumerate(sorted(set(pids)), start=1)}


def measured_window(runs: Runs, label: str) -> tuple[float, float] | None:
    """The seconds (on the run's clock) its req/s was counted over: from one second after the last
    user started (``corelab.harness.loadgen.steady_rps``) to Locust's last reading. None without history."""
    history = runs.history[(runs.history["label"] == label) & (runs.history["users"] > 0)]
    if len(history) < 2:
        return None
    scenario = runs.summary.loc[runs.summary["label"] == label, "scenario"].iloc[0]
    ramp = SCENARIOS[scenario].ramp_s if scenario in SCENARIOS else 0.0
    return float(history["t"].iloc[0]) + ramp + 1, float(history["t"].iloc[-1])


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
    fig, axes = plt.subplots(1, n, figsize=(width * n, 3.4), squeeze=False, sharey=True)
    for ax, label in zip(axes[0], labels, strict=False):
        data = workers[workers["label"] == label].sort_values("pid")
        names = worker_names(data["pid"])
        values = data[column] * scale
        bars = ax.bar([names[p].replace(" (", "\n(") for p in data["pid"]], values, color=color)
        label_bars(ax, bars, (f"{v:.0f}{unit}" for v in values), fontsize=9, inside=True)
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
