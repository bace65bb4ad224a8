"""The harness: one run of a variant under Locust load, sampled, stored and read back as tables.

- ``sampler``: per-core and per-process CPU with psutil, while a run goes;
- ``plan``: ``load_plan``, from the usable cores and a scenario's cost, the workers, users, generators and limit;
- ``run``: one run (server + Locust + sampler -> a folder) and ``bench``, a series of them;
- ``during``: what happens during a load (a restart, a SIGKILL, Redis stopped), handed to the run;
- ``loadgen``, ``generator_group``: Locust as subprocesses, one or several;
- ``results``: run folders -> pandas (``load_runs``); ``chat_results``: the chat scenario's tables;
- ``variants``, ``scenarios``, ``quick``: what can be run, with what load, and QUICK=1.

The harness never imports a lesson: lessons are built on it.
"""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "QUICK": "quick",
        "pick": "quick",
        "bench": "run",
        "load_plan": "plan",
        "Runs": "results",
        "load_runs": "results",
        "delivery": "chat_results",
        "delivery_history": "chat_results",
        "handshakes": "chat_results",
        "redis_server": "plumbing.redis_server",
    },
)
