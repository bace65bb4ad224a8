"""Notebook 09, shared state breaks per worker: what each client saw of the rate limiter and the
visit counter, in memory and in Redis (``outcome``), and its figure."""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "shared_state_table": "outcome",
        "shared_state_claim": "outcome",
        "plot_shared_state": "figures",
    },
)
