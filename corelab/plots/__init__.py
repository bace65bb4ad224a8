"""Figures for runs: matplotlib, one function per figure, each returning its Figure."""

from __future__ import annotations

from corelab.plots.cores import plot_core_heatmap, plot_core_lines, plot_cores
from corelab.plots.state import plot_shared_state
from corelab.plots.throughput import plot_requests_per_worker, plot_throughput, plot_throughput_by_variant

__all__ = [
    "plot_core_heatmap",
    "plot_core_lines",
    "plot_cores",
    "plot_requests_per_worker",
    "plot_shared_state",
    "plot_throughput",
    "plot_throughput_by_variant",
]
