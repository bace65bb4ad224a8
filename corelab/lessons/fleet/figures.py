"""Lesson 12's figures: where a fleet's requests land, a host dying under load, the load balancer's price."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.figure import Figure

from corelab.figures.common import label_bars

if TYPE_CHECKING:
    from corelab.lessons.fleet.cost import BalancerCost
    from corelab.lessons.fleet.failover import Failover, FleetFailover
    from corelab.lessons.fleet.spread import FleetSpread

HOST_COLOURS = {"host 1": "tab:blue", "host 2": "tab:orange", "host 2 (new)": "tab:green"}
FAILED_COLOUR = "tab:red"
BIN_S = 0.25


def _host_name(address: str, order: Sequence[str]) -> str:
    return f"host {order.index(address) + 1}" if address in order else address


def plot_fleet_spread(spread: FleetSpread) -> Figure:
    """One panel per load-balancing policy: each client's requests, stacked by the host that answered."""
    spreads = spread.policies
    fig, axes = plt.subplots(1, len(spreads), figsize=(4.2 * len(spreads), 3.4), squeeze=False, sharey=True)
    for ax, policy in zip(axes[0], spreads, strict=True):
        order = sorted(policy.requests_per_host)
        clients = [f"client {i + 1}" for i in range(policy.clients)]
        bottom = [0] * policy.clients
        for address in order:
            name = _host_name(address, order)
            heights = [counts.get(address, 0) for counts in policy.per_client]
            ax.bar(clients, heights, bottom=bottom, label=name, color=HOST_COLOURS.get(name))
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        low, high = min(policy.hosts_per_client), max(policy.hosts_per_client)
        reached = f"{low}" if low == high else f"{low}-{high}"
        ax.set_title(f"--lb {policy.lb}: each client reached {reached} host{'s' if high > 1 else ''}", fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
    axes[0, 0].set_ylabel("requests answered")
    axes[0, -1].legend(fontsize=8, loc="lower right")
    fig.suptitle("Which host answers each client's requests", fontsize=11)
    fig.tight_layout()
    return fig


def failover_timeline(result: Failover) -> pd.DataFrame:
    """Requests per time bin after the kill, one column per host that answered and one for failures."""
    rows = pd.read_csv(result.timeline_csv)
    rows["who"] = rows["host"].where(rows["outcome"] == "ok", "failed")
    rows["bin"] = (rows["t_from_kill_s"] // BIN_S) * BIN_S
    table = rows.groupby(["bin", "who"]).size().unstack(fill_value=0)
    return table.reindex(columns=[c for c in (*HOST_COLOURS, "failed") if c in table.columns])


def plot_failover(failover: FleetFailover) -> Figure:
    """One panel per kind of health check: requests per 0.25 s by the host that answered, failures in red;
    the kill at 0 s and the new host's start marked."""
    results = failover.cases
    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.2 * len(results) + 0.6), squeeze=False, sharex=True)
    for ax, result in zip(axes[:, 0], results, strict=True):
        table = failover_timeline(result)
        bottom = pd.Series(0, index=table.index)
        for who in table.columns:
            colour = FAILED_COLOUR if who == "failed" else HOST_COLOURS.get(who, "0.5")
            ax.bar(table.index, table[who], bottom=bottom, width=BIN_S, align="edge", color=colour, label=who)
            bottom = bottom + table[who]
        ax.axvline(0, color="black", lw=1)
        if result.back_at_s is not None:
            ax.axvline(result.back_at_s, color="tab:green", lw=1, ls="--")
        ax.set_title(f"{result.checks}: {result.lost} of {result.requests} requests failed", fontsize=10)
        ax.set_ylabel(f"requests / {BIN_S:g} s", fontsize=8)
    axes[0, 0].legend(fontsize=8, loc="upper left", ncol=4)
    axes[-1, 0].set_xlabel("seconds from the SIGKILL of host 2 (solid); dashed: a new host 2 serves")
    fig.suptitle("A host dies under round-robin load, and a new one takes its place", fontsize=11)
    fig.tight_layout()
    return fig


def plot_lb_cost(result: BalancerCost) -> Figure:
    """Left: latency of GET / directly and through the load balancer (p50, p99). Right: CPU per 1,000 requests."""
    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(9, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    width = 0.38
    for i, (name, values, colour) in enumerate(
        (
            ("direct to a host", (result.direct_p50_ms, result.direct_p99_ms), "tab:blue"),
            ("through Caddy", (result.lb_p50_ms, result.lb_p99_ms), "tab:purple"),
        )
    ):
        bars = lat.bar([x + (i - 0.5) * width for x in (0, 1)], values, width, label=name, color=colour)
        label_bars(lat, bars, (f"{v:.2f}" for v in values), fontsize=8)
    lat.set_xticks([0, 1], ["p50", "p99"])
    lat.set_ylabel("ms per request (one client, keep-alive)")
    lat.legend(fontsize=8, loc="upper left")
    lat.set_ylim(0, max(result.lb_p99_ms, result.direct_p99_ms) * 1.3)
    bars = cpu.bar(
        ["the host\n(answering)", "Caddy\n(passing on)"],
        [result.host_cpu_ms_per_1000, result.caddy_cpu_ms_per_1000],
        color=["tab:blue", "tab:purple"],
    )
    label_bars(cpu, bars, (f"{v:.0f} ms" for v in (result.host_cpu_ms_per_1000, result.caddy_cpu_ms_per_1000)))
    cpu.set_ylabel("CPU ms per 1,000 requests")
    cpu.set_ylim(0, max(result.host_cpu_ms_per_1000, result.caddy_cpu_ms_per_1000) * 1.25)
    fig.suptitle(f"The load balancer's price ({result.requests_per_path:,} requests each way)", fontsize=11)
    fig.tight_layout()
    return fig
