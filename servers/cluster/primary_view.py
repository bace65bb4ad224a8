"""What the primary's helpers (restarts, worker messages, /cluster-health) see of the primary.

``Primary`` owns the worker table and the loop; ``restart.py``, ``messages.py`` and ``health.py``
act on a part of it. They are typed by this view, not by ``Primary``, so none of them imports
the module that imports them: the primary hands itself over, and each helper can use only what
is named here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from servers.cluster.config import ClusterConfig
    from servers.cluster.policies.base import Policy
    from servers.cluster.worker_record import WorkerRecord


class Replacements(Protocol):
    """The rolling queue, as a worker message asks for one more replacement."""

    def queue(self, worker: WorkerRecord, why: str) -> None: ...


class PrimaryView(Protocol):
    config: ClusterConfig
    policy: Policy
    # pid -> the worker's record: every worker alive, whatever its state.
    workers: dict[int, WorkerRecord]
    target: int  # how many workers the cluster should have (scaling moves it)
    announced: bool  # "cluster ready" said for the current target
    stopping_since: float | None
    exit_code: int
    started: float
    restarts: int  # workers that died unasked and were replaced
    restarting: Replacements

    def spawn(self, slot: int) -> None: ...

    def drain(self, worker: WorkerRecord, why: str) -> None: ...

    def unregister(self, worker: WorkerRecord) -> None: ...

    def routing_changed(self) -> None: ...

    def stop(self, graceful: bool, why: str) -> None: ...

    def close_port(self) -> None: ...
