"""Throughput figures: over time, by variant, and how requests were shared among workers.

Where the scenario's limit is the CPU (10 ms of pure-Python work a request), the figures draw
it: one core serves at most 100 such requests a second, N cores N times that.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from corelab.figures.common import (
    NAMED_WORKERS,
    label_bars,
    labels_in_order,
    measured_window,
    one_core_rps,
    per_worker_panels,
    users_limit_rps,
)
from corelab.harness.results import Runs, given
from corelab.harness.scenarios import SCENARIOS

# Up to this many workers a title lists each one's share; beyond, it says how uneven they were.
LISTED_WORKERS = 8


def _cores(runs: Runs) -> int:
    return runs.cores["core"].nunique() if len(runs.cores) else 1


def _draw_limits(ax: Axes, runs: Runs) -> float:
    """The limit the scenario sets, drawn: the users' (waiting scenarios), or one core's and, if a
    run had more workers, all its cores' (CPU scenarios). Returns the highest line drawn, or 0."""
    scenarios = set(runs.summary["scenario"])
    scenario = scenarios.pop() if len(scenarios) == 1 else ""
    users = set(runs.summary["users"])
    asked = users_limit_rps(scenario, int(users.pop())) if len(users) == 1 else None
    if asked is not None:
        ms = f"{SCENARIOS[scenario].wait_ms:g}"
        label = f"what the users can ask for: {runs.summary['users'].iloc[0]} users / {ms} ms = {asked:.0f} req/s"
        ax.axhline(asked, color="black", ls="--", lw=1, label=label)
        return asked
    one = one_core_rps(scenario)
    if one is None:
        return 0.0
    ms = 1000 / one
    ax.axhline(one, color="black", ls="--", lw=1, label=f"one core's limit: {one:.0f} req/s at {ms:.0f} ms of CPU each")
    top = one
    multi = runs.summary[runs.summary["workers"] > 1]
    planned = pd.to_numeric(multi.get("limit_rps"), errors="coerce").dropna() if len(multi) else pd.Series(dtype=float)
    if len(planned):
        # The load plan's limit: the usable cores (SMT siblings once, a quota's cap) less Locust's share.
        top = float(planned.max())
        most = int(multi["workers"].max())
        ax.axhline(top, color="0.45", ls=":", lw=1.2, label=f"the limit for {most} workers here: {top:.0f} req/s")
    elif len(multi) and (most := min(int(multi["workers"].max()), _cores(runs))) > 1:
        top = one * most  # runs stored before the load plan: the cores' limit alone
        ax.axhline(top, color="0.45", ls=":", lw=1.2, label=f"{most} cores' limit: {top:.0f} req/s")
    return top


def throughput_title(runs: Runs) -> str:
    served = ", ".join(f"{r.label} {r.rps:.0f}" for r in runs.summary.itertuples())
    one = one_core_rps(runs.summary["scenario"].iloc[0])
    limit = f" (one core's limit: {one:.0f})" if one else ""
    return f"requests served per second: {served}{limit}"


def plot_throughput(runs: Runs, *, title: str | None = None) -> Figure:
    """Requests per second over time (Locust's once-a-second reading), one line per run.

    Solid: the seconds the run's req/s was counted over; faded: the start, which it leaves out
    (users still connecting). A dotted line at each run's req/s; the CPU limits where there is one.
    """
    fig, ax = plt.subplots(figsize=(10, 3.8))
    highest = _draw_limits(ax, runs)
    faded_labelled = False
    for n, label in enumerate(labels_in_order(runs.summary["label"])):
        history = runs.history[runs.history["label"] == label].copy()
        history["from_t"] = history["t"].shift()
        history = history[history["users"] > 0]
        window = measured_window(runs, label)
        counted = history["from_t"] >= window[0] - 1e-6 if window else pd.Series(True, index=history.index)
        colour = f"C{n}"
        rate = float(runs.summary.loc[runs.summary["label"] == label, "rps"].iloc[0])
        ax.plot(history["t"], history["rps"], color=colour, alpha=0.3, marker="o", mfc="none", lw=1)
        inside = history[counted]
        ax.plot(inside["t"], inside["rps"], color=colour, marker="o", lw=2, label=label)
        ax.axhline(rate, color=colour, ls=(0, (1, 2)), lw=1.2)
        ax.annotate(f"{label}: {rate:.0f} req/s", (1.0, rate), xycoords=("axes fraction", "data"), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8, color=colour)  # fmt: skip
        if not counted.all() and not faded_labelled:
            ax.plot(
                [],
                [],
                color="0.5",
                alpha=0.4,
                marker="o",
                mfc="none",
                label="the start (users connecting): not in the req/s",
            )
            faded_labelled = True
        highest = max(highest, float(history["rps"].max()) if len(history) else 0.0)
    ax.set_xlabel("seconds since the sampler started")
    ax.set_ylabel("requests served / s")
    ax.set_ylim(0, max(highest, 1.0) * 1.25)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncol=2)
    ax.set_title(title or throughput_title(runs), fontsize=11)
    fig.tight_layout()
    return fig


def plot_throughput_by_variant(runs: Runs, *, title: str | None = None) -> Figure:
    """One bar per run, labelled with its speed-up over the first run, against the CPU limits.

    A generator-bound run is hatched: its height is the load generator's limit, not the server's.
    """
    summary = runs.summary
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(summary)), 4.0))
    base = summary["rps"].iloc[0]
    bars = ax.bar(summary["label"], summary["rps"], color="tab:blue")
    for bar, row in zip(bars, summary.itertuples(), strict=True):
        if row.generator_bound:
            bar.set_hatch("//")
            bar.set_color("tab:gray")
    label_bars(
        ax,
        bars,
        (
            f"{row.rps:.0f}/s\n{row.rps / base:.2f}x" + ("\ngenerator-bound" if row.generator_bound else "")
            for row in summary.itertuples()
        ),
        inside=True,
    )
    top = _draw_limits(ax, runs)
    if top:
        ax.legend(fontsize=8, loc="upper left")
    ax.set_ylabel("requests served / s")
    ax.set_ylim(0, max(float(summary["rps"].max()), top) * 1.35)
    ax.tick_params(axis="x", labelsize=9)
    ax.grid(axis="y", alpha=0.3)
    first, last = summary.iloc[0], summary.iloc[-1]
    claim = f"{last.label} served {last.rps / base:.2f}x what {first.label} did" if len(summary) > 1 else "req/s"
    ax.set_title(title or f"{summary['scenario'].iloc[0]} scenario: {claim}", fontsize=11)
    fig.tight_layout()
    return fig


def plot_requests_per_worker(runs: Runs, *, title: str | None = None) -> Figure:
    """How many of the responses each worker gave, per run (from the X-Worker-Pid header); a worker that
    served nothing is a zero bar ("idle"), so an idle half of the workers shows as half the bars empty."""
    workers = with_idle_workers(runs)
    labels = labels_in_order(workers["label"])
    sizes = workers.groupby("label")["pid"].transform("count")
    if int(sizes.max()) > NAMED_WORKERS:
        # Many workers: each one's share as a multiple of an even share (1.0), readable at any count.
        workers = workers.assign(evenness=workers["share"] * sizes)
        fig = per_worker_panels(
            workers, labels, "evenness", ylabel="responses, x an even share", color="tab:green",
            ylim=(0, max(1.5, float(workers["evenness"].max()) * 1.15)),
        )  # fmt: skip
        for ax in fig.axes:
            ax.axhline(1.0, color="black", ls="--", lw=1, label="an even share")
            ax.legend(fontsize=8, loc="upper right")
    else:
        fig = per_worker_panels(
            workers,
            labels,
            "share",
            ylabel="% of the run's responses",
            color="tab:green",
            scale=100,
            ylim=(0, 115),
            unit="%",
            even=100,
        )
    shares = []
    for label in labels:
        data = workers[workers["label"] == label]
        idle = int((data["responses"] == 0).sum())
        if len(data) <= LISTED_WORKERS:
            said = " / ".join(f"{s:.0%}" for s in data.sort_values("pid")["share"])
        else:
            even = 1 / len(data)
            said = (
                f"{len(data)} workers, {data['share'].min() / even:.1f}-{data['share'].max() / even:.1f}x an even share"
            )
        shares.append(f"{label} {said}" + (f" ({idle} idle)" if idle else ""))
    fig.suptitle(title or "which worker answered: " + "; ".join(shares), fontsize=11)
    fig.tight_layout()
    return fig


def with_idle_workers(runs: Runs) -> pd.DataFrame:
    """``runs.workers`` plus a zero row per worker that served nothing (the summary's idle_workers), so
    the figure shows every worker the run started, not only those that answered."""
    rows = []
    for r in runs.summary.itertuples():
        idle = getattr(r, "idle_workers", None)
        if not given(idle):
            continue
        rows += [
            {"run": r.run, "label": r.label, "pid": -(k + 1), "responses": 0, "share": 0.0} for k in range(int(idle))
        ]
    return (
        pd.concat([runs.workers, pd.DataFrame(rows, columns=runs.workers.columns)], ignore_index=True)
        if rows
        else runs.workers
    )
