"""corelab: measure how a Python web server uses the cores of a machine.

Two tiers. The harness on top: ``sampler`` (per-core CPU), ``run`` (one run and a series of
them: start a variant, load it with Locust, sample, stop, store), ``loadgen``, ``procs``,
``results`` (runs as tables), ``plots`` and the CLI (``python -m corelab``). The lessons
underneath, in ``corelab.lessons``: one module per notebook, each with its measurement and a
result object that carries the claim's numbers.

The functions a notebook needs are importable from here::

    from corelab import bench, plot_cores, plot_throughput

``import corelab`` itself is cheap: each name is imported on first use (PEP 562), so a process
that needs only the harness's light parts (a spawned child, ``corelab top``) never loads pandas
or matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

import corelab.plots as _plots

# Public name -> the module that defines it.
_SOURCES: dict[str, str] = {
    "QUICK": "corelab.quick",
    "pick": "corelab.quick",
    "bench": "corelab.run",
    "Runs": "corelab.results",
    "load_runs": "corelab.results",
    "redis_server": "plumbing.redis_server",
    "burst": "corelab.lessons.burst",
    "load_burst": "corelab.lessons.burst",
    "delivery": "corelab.lessons.chat",
    "delivery_history": "corelab.lessons.chat",
    "handshakes": "corelab.lessons.chat",
    "redis_outage": "corelab.lessons.chat",
    "chat_outcome": "corelab.lessons.chat_claims",
    "outage_summary": "corelab.lessons.chat_claims",
    "balance": "corelab.lessons.lifecycle",
    "respawn_times": "corelab.lessons.lifecycle",
    "restart_under_load": "corelab.lessons.lifecycle",
    "balance_claim": "corelab.lessons.lifecycle_claims",
    "restart_claim": "corelab.lessons.lifecycle_claims",
    "shared_state_table": "corelab.lessons.shared_state",
    "shared_state_claim": "corelab.lessons.shared_state",
    "blocked_loop_claim": "corelab.lessons.blocked_loop",
    "one_core_claim": "corelab.lessons.core_claims",
    "every_core_claim": "corelab.lessons.core_claims",
    "not_parallel_claim": "corelab.lessons.core_claims",
    # Every figure, as corelab.plots lists it (that list is cheap to read: no matplotlib until one is drawn).
    **{name: "corelab.plots" for name in _plots.__all__},
}

__all__ = sorted(_SOURCES)


def __getattr__(name: str) -> Any:
    source = _SOURCES.get(name)
    if source is None:
        raise AttributeError(f"module 'corelab' has no attribute {name!r}")
    value = getattr(importlib.import_module(source), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
