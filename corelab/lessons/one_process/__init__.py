"""Notebooks 05-07, inside one process: the blocked event loop (``blocked_loop``), threads vs
processes vs the GIL (``parallel``, ``pools``), a pool vs a new worker per task (``spawn_cost``),
shared memory (``shared_counter``). ``jobs`` is what a spawned child imports: the standard library
only, never pandas or matplotlib."""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "blocked_loop_claim": "blocked_loop",
        "plot_parallel_cores": "figures",
        "plot_probe_latency": "figures",
        "plot_shared_counter": "figures",
        "plot_speedup": "figures",
        "plot_task_latency": "figures",
    },
)
