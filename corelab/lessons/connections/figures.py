"""Notebook 3's figures: who got each burst's connections, each worker's share, and the primary's price.

- ``plot_burst``: per policy, which worker got each burst's connections, and what it did to throughput;
- ``plot_balance``: per policy and kind of client, each worker's share of requests and connections;
- ``plot_primary_cost``: the primary's CPU per connection, one bar per cluster policy and Node's beside.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from corelab.figures.common import label_bars, labels_in_order
from corelab.lessons.connections.burst_result import BASELINE, NOISY_OTHER_CPU_PCT, BurstResult
from corelab.lessons.connections.per_worker import CLIENTS, Balance

if TYPE_CHECKING:
    from corelab.lessons.connections.primary_cost import PrimaryCostResult

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


# -- each worker's share ----------------------------------------------------------------------


def balance_title(result: Balance) -> str:
    """The claim in this run's numbers: the busiest worker's requests over the least busy's, per policy."""
    lines = []
    for kind in labels_in_order(result.summary["clients"]):
        rows = result.summary[result.summary["clients"] == kind]
        ratios = ", ".join(f"{r.policy} {r.requests_max_min:.2f}x" for r in rows.itertuples())
        lines.append(f"{CLIENTS.get(kind, kind)}: {ratios}")
    return "busiest worker's requests over the least busy's (1.00x: even)\n" + "; ".join(lines)


def plot_balance(result: Balance, *, title: str | None = None) -> Figure:
    """Per-worker share of requests (bars) and of connections (diamonds), per policy and kind of client.

    Within a policy the workers are sorted busiest first, and coloured by that rank.
    """
    kinds = labels_in_order(result.shares["clients"])
    most = max(1, int(result.shares.groupby(["clients", "policy"]).size().max()))
    fig, axes = plt.subplots(1, len(kinds), figsize=(5.5 * len(kinds), 4.2), sharey=True, squeeze=False)
    for ax, kind in zip(axes[0], kinds, strict=True):
        shares = result.shares[result.shares["clients"] == kind]
        policies = labels_in_order(shares["policy"])
        width = 0.8 / most
        for x, policy in enumerate(policies):
            workers = shares[shares["policy"] == policy].sort_values("request_share", ascending=False)
            for j, w in enumerate(workers.itertuples()):
                pos = x - 0.4 + width * (j + 0.5)
                ax.bar(pos, w.request_share, width * 0.9, color=f"C{j}")
                share = f"{w.request_share:.0%}"
                # At the bar's foot: its top is where the connections' diamond sits.
                ax.text(pos, 0.02, share, ha="center", va="bottom", fontsize=8, color="white", fontweight="bold")
                ax.plot(pos, w.connection_share, "D", color="white", markeredgecolor="black", markersize=8,
                        markeredgewidth=1.5)  # fmt: skip
            row = result.summary[(result.summary["clients"] == kind) & (result.summary["policy"] == policy)].iloc[0]
            ax.text(x, 1.03, f"busiest / least\n{row.requests_max_min:.2f}x", ha="center", fontsize=8)
        ax.axhline(1 / most, color="gray", ls=":", lw=1.2)
        ax.set_xticks(range(len(policies)), policies)
        ax.set_xlabel("policy: how the cluster hands out connections")
        ax.set_ylim(0, 1.15)
        ax.set_title(CLIENTS.get(kind, kind) + " clients", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("a worker's share")
    handles = [Patch(color=f"C{j}", label=_rank(j, most)) for j in range(most)] + [
        Line2D(
            [],
            [],
            ls="",
            marker="D",
            color="white",
            markeredgecolor="black",
            markersize=8,
            label="that worker's share of the connections",
        ),
        Line2D([], [], ls=":", color="gray", label=f"an even share: 1/{most}"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    fig.suptitle(title or balance_title(result), fontsize=11)
    fig.set_layout_engine("constrained")
    return fig


def _rank(j: int, n: int) -> str:
    if n == 2:
        return ("the busier worker's share of the requests", "the other worker's")[j]
    return "the busiest worker's share of the requests" if j == 0 else f"the {j + 1}. busiest"


# -- the primary's price ----------------------------------------------------------------------

KIT_COLOUR = "tab:blue"
NODE_COLOUR = "tab:green"
SUBTITLE = "near zero: the kernel gives each connection to a worker\ntall: the primary accepts it and passes it on"


def plot_primary_cost(result: PrimaryCostResult, *, title: str | None = None) -> Figure:
    """Microseconds of the primary's CPU per connection, per policy (and Node's), each bar labelled.

    A bar's label gives its microseconds and, for a primary that does work per connection, the
    share of a core that cost at the run's connection rate.
    """
    table = result.table
    fig, ax = plt.subplots(figsize=(max(7.0, 1.6 + 1.3 * len(table)), 4.2))
    colours = [NODE_COLOUR if server == "node" else KIT_COLOUR for server in table["server"]]
    bars = ax.bar(table["label"], table["us_per_connection"], color=colours)
    label_bars(
        ax,
        bars,
        (
            f"{r.us_per_connection:.0f} us\n{r.primary_cpu_pct:.0f}% of a core\nat {r.connections_per_s:,.0f}/s"
            if r.us_per_connection >= 5
            else f"{r.us_per_connection:.1f} us\n(no work per\nconnection)"
            for r in table.itertuples()
        ),
        fontsize=8,
    )
    top = float(table["us_per_connection"].max()) if len(table) else 1.0
    ax.set_ylim(0, max(top, 1.0) * 1.45)
    ax.set_ylabel("primary's CPU per connection, us")
    ax.set_xlabel("how connections reach the workers")
    ax.grid(alpha=0.3, axis="y")
    notes = []
    if table["generator_bound"].any():
        notes.append("Locust-bound runs: a cost per connection, not the cluster's capacity")
    if result.node_skipped:
        notes.append(f"Node not measured: {result.node_skipped}")
    if (table["server"] == "node").any():
        handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in (KIT_COLOUR, NODE_COLOUR)]
        ax.legend(handles, ["servers.cluster", "Node's cluster"], fontsize=8, loc="upper right")
    ax.set_title(title or "Round-robin's price: the primary's CPU per connection", fontsize=11, pad=30)
    ax.text(0.5, 1.015, SUBTITLE, transform=ax.transAxes, ha="center", va="bottom", fontsize=8, color="0.3")
    # Notes go under the figure, where they cover no bar and no legend.
    fig.tight_layout(rect=(0, 0.04 * len(notes), 1, 1))
    if notes:
        fig.text(0.01, 0.01, "\n".join(notes), va="bottom", fontsize=7, color="0.35")
    return fig
