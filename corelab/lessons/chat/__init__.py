"""Notebooks 10 and 11, sticky sessions and the Redis adapter: the Socket.IO clients (``clients``),
the cluster under test (``server``), a stop and a restart with clients connected (``drain``), a
Redis outage under load (``outage``), the claims, the figures and the benchmarks (``bench``). The
chat scenario's tables (delivery, handshakes) are the harness's: ``corelab.harness.chat_results``."""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "redis_outage": "outage",
        "chat_outcome": "claims",
        "outage_summary": "claims",
        "plot_connections_per_worker": "figures",
        "plot_delivery": "figures",
        "plot_delivery_latency": "figures",
        "plot_delivery_over_time": "outage_figures",
    },
)
