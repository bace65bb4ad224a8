"""The price of balance: the primary's CPU per connection, one bar per cluster policy and Node's beside."""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from corelab.plots.common import label_bars

if TYPE_CHECKING:
    from corelab.lessons.primary_cost import PrimaryCostResult

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
