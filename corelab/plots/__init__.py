"""Figures for runs: matplotlib, one function per figure, each returning its Figure.

Each name is imported on first use (PEP 562), so ``import corelab.plots`` loads no matplotlib and
``corelab`` can offer every name in ``__all__`` without repeating the list.
"""

from __future__ import annotations

import importlib
from typing import Any

# Public figure -> the module under corelab.plots that draws it.
_SOURCES: dict[str, str] = {
    "plot_balance": "lifecycle",
    "plot_burst": "burst",
    "plot_connections_per_worker": "chat",
    "plot_core_heatmap": "cores",
    "plot_cores": "cores",
    "plot_delivery": "chat",
    "plot_delivery_latency": "chat",
    "plot_delivery_over_time": "chat_outage",
    "plot_parallel_cores": "parallel",
    "plot_primary_cost": "primary_cost",
    "plot_probe_latency": "parallel",
    "plot_requests_per_worker": "throughput",
    "plot_restarts": "lifecycle",
    "plot_shared_counter": "parallel",
    "plot_shared_state": "state",
    "plot_speedup": "parallel",
    "plot_task_latency": "parallel",
    "plot_throughput": "throughput",
    "plot_throughput_by_variant": "throughput",
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'corelab.plots' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{source}"), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
