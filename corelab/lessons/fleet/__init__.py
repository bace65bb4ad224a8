"""Notebook 12, beyond one machine: hosts behind Caddy with one Redis (``handle``), spread over
hosts, delivery across them, failover, the balancer's cost and faults (one module each), their
store, figures and benchmark (``bench``: ``python -m corelab fleet``)."""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "load_fleet": "bench",
        "plot_failover": "figures",
        "plot_fleet_spread": "figures",
        "plot_lb_cost": "figures",
    },
)
