"""Notebook 03, who gets the connection: bursts of clients against each policy (``bursts``,
``burst_trials``, ``burst_result``), each worker's share (``per_worker``), the primary's price per
connection (``primary_cost*``, ``primary_cpu``), their figures and benchmarks (``bench``)."""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "burst": "bursts",
        "load_burst": "bursts",
        "balance": "per_worker",
        "balance_claim": "per_worker",
        "plot_balance": "figures",
        "plot_burst": "figures",
        "plot_primary_cost": "figures",
    },
)
