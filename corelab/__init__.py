"""corelab: measure how a Python web server uses the cores of a machine.

The functions a notebook needs are importable from here::

    from corelab import bench, plot_cores, plot_throughput
"""

from __future__ import annotations

from corelab.bench import bench
from corelab.burst import burst, load_burst
from corelab.chat import delivery, delivery_history, handshakes, redis_outage
from corelab.lifecycle import balance, respawn_times, restart_under_load
from corelab.plots import (
    plot_balance,
    plot_burst,
    plot_connections_per_worker,
    plot_core_heatmap,
    plot_core_lines,
    plot_cores,
    plot_delivery,
    plot_delivery_latency,
    plot_delivery_over_time,
    plot_parallel_cores,
    plot_probe_latency,
    plot_requests_per_worker,
    plot_restarts,
    plot_shared_counter,
    plot_shared_state,
    plot_speedup,
    plot_task_latency,
    plot_throughput,
    plot_throughput_by_variant,
)
from corelab.quick import QUICK, pick
from corelab.redis_server import redis_server
from corelab.results import Runs, load_runs
from corelab.shared_state import shared_state_table

__all__ = [
    "QUICK",
    "Runs",
    "balance",
    "bench",
    "burst",
    "delivery",
    "delivery_history",
    "handshakes",
    "load_burst",
    "load_runs",
    "pick",
    "plot_balance",
    "plot_burst",
    "plot_connections_per_worker",
    "plot_core_heatmap",
    "plot_core_lines",
    "plot_cores",
    "plot_delivery",
    "plot_delivery_latency",
    "plot_delivery_over_time",
    "plot_parallel_cores",
    "plot_probe_latency",
    "plot_requests_per_worker",
    "plot_restarts",
    "plot_shared_counter",
    "plot_shared_state",
    "plot_speedup",
    "plot_task_latency",
    "plot_throughput",
    "plot_throughput_by_variant",
    "redis_outage",
    "redis_server",
    "respawn_times",
    "restart_under_load",
    "shared_state_table",
]
