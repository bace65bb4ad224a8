"""Figures for runs: matplotlib, one function per figure, each returning its Figure."""

from __future__ import annotations

from corelab.plots.burst import plot_burst
from corelab.plots.chat import plot_connections_per_worker, plot_delivery, plot_delivery_latency
from corelab.plots.chat_outage import plot_delivery_over_time
from corelab.plots.cores import plot_core_heatmap, plot_cores
from corelab.plots.lifecycle import plot_balance, plot_restarts
from corelab.plots.parallel import (
    plot_parallel_cores,
    plot_probe_latency,
    plot_shared_counter,
    plot_speedup,
    plot_task_latency,
)
from corelab.plots.primary_cost import plot_primary_cost
from corelab.plots.state import plot_shared_state
from corelab.plots.throughput import plot_requests_per_worker, plot_throughput, plot_throughput_by_variant

__all__ = [
    "plot_balance",
    "plot_burst",
    "plot_connections_per_worker",
    "plot_core_heatmap",
    "plot_cores",
    "plot_delivery",
    "plot_delivery_latency",
    "plot_delivery_over_time",
    "plot_parallel_cores",
    "plot_primary_cost",
    "plot_probe_latency",
    "plot_requests_per_worker",
    "plot_restarts",
    "plot_shared_counter",
    "plot_shared_state",
    "plot_speedup",
    "plot_task_latency",
    "plot_throughput",
    "plot_throughput_by_variant",
]
