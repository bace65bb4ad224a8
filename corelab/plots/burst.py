"""The burst figure: per policy, which worker got each burst's connections, and what it did to throughput."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from corelab.lessons.burst import BASELINE, NOISY_OTHER_CPU_PCT, BurstResult

IDLE = "tab:red"
BUSY = "tab:blue"


def burst_title(result: BurstResult) -> str:
    """The claim, as this run's numbers say it: what the default did, and which targets left a worker idle."""
    figures = [f for f in result.figures.values() if f.target != BASELINE]
    trials = max((f.trials for f in figures), default=0)
    default = result.figures.get(result.default_policy)
    others = [f for f in figures if f is not default and f.idle_trials]
    if default is not None and default.idle_trials:
        claim = f"{default.target} (the default) left a worker idle in {default.idle_trials} of {default.trials} bursts"
    elif default is not None:
        claim = f"{default.target} (the default) gave every worker connections in every burst"
        idle = ", ".join(f.target for f in others)
        claim += f"; {idle} sometimes left one idle" if others else "; so did the others, this run"
    else:
        claim = "which worker got the connections of each burst"
    counts = ", ".join(f"{f.target} {f.idle_trials}" for f in figures)
    return (
        f"{claim}\n{result.clients} keep-alive clients connecting at once, {trials} bursts each; "
        f"bursts that left a worker idle: {counts}"
    )


def plot_burst(result: BurstResult, *, title: str | None = None) -> Figure:
    """Per target: a grid of bursts x workers (connections each got; red: none) beside each burst's req/s."""
    targets = [f for f in result.figures.values() if f.target != BASELINE]
    base = result.figures.get(BASELINE)
    trials = max(f.trials for f in targets)
    widths = [0.55 * f.workers + 1.6 for f in targets]
    fig = plt.figure(figsize=(max(9.0, sum(widths) * 1.3 + 0.6), 2.6 + 0.28 * trials), layout="constrained")
    panels = fig.subfigures(1, len(targets), width_ratios=widths, squeeze=False)[0]
    rps_max = float(result.trials["rps"].max()) * 1.1
    if base is not None:
        rps_max = max(rps_max, base.median_rps * max(f.workers for f in targets) * 1.05)
    for n, (panel, fig_) in enumerate(zip(panels, targets, strict=True)):
        grid, bars = panel.subplots(1, 2, width_ratios=[0.55 * fig_.workers, 1.6])
        cells = result.workers[result.workers["target"] == fig_.target]
        table = cells.pivot(index="trial", columns="worker", values="connections").sort_index()
        grid.imshow(table.to_numpy(), cmap="Blues", vmin=0, vmax=result.clients, aspect="auto")
        for (i, j), value in zip(
            ((i, j) for i in range(table.shape[0]) for j in range(table.shape[1])),
            table.to_numpy().ravel(),
            strict=True,
        ):
            if value == 0:
                grid.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color=IDLE))
            dark = value > 0.6 * result.clients
            grid.text(j, i, str(int(value)), ha="center", va="center", fontsize=8, color="white" if dark else "black")
        grid.set_xticks(range(table.shape[1]), [f"worker {w}" for w in table.columns], fontsize=8, rotation=30)
        grid.set_yticks(range(table.shape[0]), [str(t) for t in table.index], fontsize=7)
        panel.suptitle(f"{fig_.label}\na worker idle in {fig_.idle_trials} of {fig_.trials} bursts", fontsize=9)
        grid.set_xlabel("connections", fontsize=8)
        if n == 0:
            grid.set_ylabel("burst (a new Locust run each)")
        else:
            grid.tick_params(axis="y", labelleft=False)

        rows = result.trials[result.trials["target"] == fig_.target].sort_values("trial")
        colors = [IDLE if idle else BUSY for idle in rows["idle"]]
        # Drawn hatched: a burst whose throughput says more about the machine than about the policy.
        hatches = ["////" if other > NOISY_OTHER_CPU_PCT else "" for other in rows["other_cpu_pct"]]
        bars.barh(range(len(rows)), rows["rps"], color=colors, height=0.75, hatch=hatches, edgecolor="white")
        bars.set_ylim(len(rows) - 0.5, -0.5)  # burst 1 at the top, as in the grid
        bars.set_xlim(0, rps_max)
        bars.tick_params(axis="y", labelleft=False, left=False)
        bars.tick_params(axis="x", labelsize=7)
        bars.set_xlabel("req/s", fontsize=8)
        bars.grid(axis="x", alpha=0.3)
        if base is not None:
            bars.axvline(base.median_rps, color="black", ls="--", lw=1)
            bars.axvline(base.median_rps * fig_.workers, color="gray", ls=":", lw=1)
    handles = [
        Patch(color=IDLE, label="a worker got no connection: its core idled (cell and bar)"),
        Patch(color=BUSY, label="req/s of a burst in which every worker got connections"),
    ]
    if (result.trials["other_cpu_pct"] > NOISY_OTHER_CPU_PCT).any():
        handles.append(
            Patch(
                facecolor=BUSY,
                hatch="////",
                edgecolor="white",
                label=f"other processes used > {NOISY_OTHER_CPU_PCT:.0f}% of a core meanwhile (noise)",
            )
        )
    if base is not None:
        handles += [
            Line2D([], [], color="black", ls="--", lw=1, label=f"one process: {base.median_rps:.0f} req/s (median)"),
            Line2D([], [], color="gray", ls=":", lw=1, label="one process x workers"),
        ]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    fig.suptitle(title or burst_title(result), fontsize=11)
    return fig
