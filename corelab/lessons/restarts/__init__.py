"""Notebook 04, restarts without downtime: a rolling restart, a naive one, a crash and respawn under
load (``under_load``), the claim (``claims``), the figure and the benchmarks (``bench``)."""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "restart_under_load": "under_load",
        "respawn_times": "under_load",
        "restart_claim": "claims",
        "plot_restarts": "figures",
    },
)
