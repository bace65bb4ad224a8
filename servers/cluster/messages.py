"""What the primary does with each worker -> primary message, dispatched by its verb (``act``).

- ``ready``: the worker serves. A rolling restart's old worker in the same slot drains only now,
  and the cluster says "cluster ready" once every slot serves.
- ``heartbeat``: the worker's event loop is alive (the primary kills one that stops beating),
  with its memory; over ``--max-memory`` it is queued for a rolling replacement.
- ``recycle``: the worker asks to be replaced (e.g. after so many requests).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from servers.cluster import protocol
from servers.cluster.worker_record import BOOTING, SERVING, SUPERSEDED, WorkerRecord

if TYPE_CHECKING:
    from servers.cluster.primary_view import PrimaryView

log = logging.getLogger("cluster")


class WorkerMessages:
    """Reads a worker's channel and hands each message to the handler of its verb."""

    def __init__(self, primary: PrimaryView) -> None:
        self.primary = primary
        self.handlers: dict[str, Callable[[WorkerRecord, protocol.Message], None]] = {
            protocol.READY: self._on_ready,
            protocol.HEARTBEAT: self._on_heartbeat,
            protocol.RECYCLE: self._on_recycle,
        }

    def receive(self, worker: WorkerRecord) -> None:
        try:
            messages = worker.channel.receive()
        except (EOFError, ConnectionError, TimeoutError):
            # The worker is exiting; SIGCHLD will tell us how.
            self.primary.unregister(worker)
            return
        for msg, fd in messages:
            if fd is not None:  # workers send no descriptors; never leak one that arrives
                os.close(fd)
            handler = self.handlers.get(msg.get("act", ""))
            if handler is None:
                log.warning("worker %d sent an unknown message %r", worker.pid, msg)
                continue
            handler(worker, msg)

    def _on_ready(self, worker: WorkerRecord, _msg: protocol.Message) -> None:
        p = self.primary
        worker.last_heartbeat = time.monotonic()
        if worker.state == BOOTING:
            worker.state = SERVING
            p.routing_changed()
        log.info("worker %d (slot %d) is serving", worker.pid, worker.slot)
        # A rolling restart's old worker stops taking connections only now that this one serves.
        for old in list(p.workers.values()):
            if old.slot == worker.slot and old.state == SUPERSEDED:
                p.drain(old, why=f"worker {worker.pid} serves in its place")
        if not p.announced and _all_slots_serving(p):
            p.announced = True
            log.info("cluster ready: %d workers serving http://%s:%d", p.target, p.config.host, p.config.port)

    def _on_heartbeat(self, worker: WorkerRecord, msg: protocol.Message) -> None:
        worker.last_heartbeat = time.monotonic()
        worker.beat = {k: msg[k] for k in ("rss_bytes", "uptime_s", "requests_served", "time") if k in msg}
        limit = self.primary.config.max_memory_mb
        rss = msg.get("rss_bytes", 0)
        if limit is not None and worker.state == SERVING and rss > limit * 1024 * 1024:
            self.primary.restarting.queue(worker, f"rss {rss / 2**20:.0f} MB is over --max-memory {limit:g} MB")

    def _on_recycle(self, worker: WorkerRecord, msg: protocol.Message) -> None:
        self.primary.restarting.queue(worker, str(msg.get("reason", "asked to be replaced")))


def _all_slots_serving(primary: PrimaryView) -> bool:
    serving = {w.slot for w in primary.workers.values() if w.ready}
    return all(slot in serving for slot in range(primary.target))
