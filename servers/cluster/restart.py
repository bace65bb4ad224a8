"""Restarts and scaling, as the primary's main loop drives them.

- A *rolling* restart (SIGHUP or SIGUSR2 with ``--restart rolling``, and a worker over
  ``--max-memory`` or asking to be recycled) replaces one worker at a time: its successor boots
  in the same slot while it keeps serving (``superseded``); once the successor serves, the old
  worker drains (``Primary._on_ready``), and only when it is gone does the next one start.
- A *naive* restart (``--restart naive``) closes the port and drains every worker; once all are
  gone the port is opened again and the slots fill as at start-up. Requests in the gap fail:
  notebook 4 measures what that costs.
- Scaling (SIGTTIN, SIGTTOU) moves the target; the primary's worker count follows it.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING

from servers.cluster.worker_record import SERVING, SUPERSEDED, WorkerRecord
from servers.listen import ListenError

if TYPE_CHECKING:
    from servers.cluster.primary_view import PrimaryView

log = logging.getLogger("cluster")


class Restarts:
    """One primary's restarts: the rolling queue, the worker being replaced, a naive restart's gap."""

    def __init__(self, primary: PrimaryView) -> None:
        self.primary = primary
        # Rolling replacement: workers waiting to be replaced, one at a time, and the one in hand.
        self.to_replace: deque[tuple[int, str]] = deque()
        self.replacing: int | None = None
        # A naive restart in progress: every worker stopped and the port closed until all are gone.
        self.naive = False

    def restart(self, why: str) -> None:
        """Restart every worker as ``--restart`` says."""
        p = self.primary
        if p.stopping_since is not None:
            return
        if p.config.restart == "naive":
            if self.naive:
                return
            log.info("%s: naive restart: stopping every worker and closing the port, then starting again", why)
            self.naive = True
            p.close_port()
            for worker in list(p.workers.values()):
                p.drain(worker, why="naive restart")
            return
        serving = sorted((w for w in p.workers.values() if w.state == SERVING), key=lambda w: w.slot)
        log.info("%s: rolling restart of %d workers, one at a time", why, len(serving))
        queued = {pid for pid, _ in self.to_replace}
        self.to_replace.extend((w.pid, f"rolling restart ({why})") for w in serving if w.pid not in queued)

    def queue(self, worker: WorkerRecord, why: str) -> None:
        """Replace one worker (too big, or it asked), after those already queued."""
        if worker.pid != self.replacing and all(pid != worker.pid for pid, _ in self.to_replace):
            self.to_replace.append((worker.pid, why))

    def replace_next(self) -> None:
        """Move a rolling replacement on: one worker at a time, successor first."""
        p = self.primary
        if self.replacing is not None:
            if self.replacing in p.workers:
                return  # the old worker is still superseded or draining
            self.replacing = None
        if p.stopping_since is not None or self.naive:
            self.to_replace.clear()
            return
        while self.to_replace:
            pid, why = self.to_replace.popleft()
            worker = p.workers.get(pid)
            if worker is None or worker.state != SERVING:
                continue
            log.info("replacing worker %d (slot %d): %s", pid, worker.slot, why)
            worker.state = SUPERSEDED
            p.routing_changed()
            self.replacing = pid
            p.spawn(worker.slot)
            return

    def naive_gap_over(self) -> bool:
        """False while a naive restart waits for its workers to go or cannot reopen the port."""
        if not self.naive:
            return True
        if self.primary.workers:
            return False
        return self._reopen()

    def _reopen(self) -> bool:
        """After a naive restart's stop: claim the port again. False (and stop) if it is gone."""
        p = self.primary
        try:
            p.policy.open()
        except ListenError as exc:
            log.error("cannot reopen the port after a naive restart: %s", exc)
            p.exit_code = exc.exit_code
            p.stop(graceful=False, why="the port could not be reopened")
            return False
        self.naive = False
        p.announced = False
        return True


def scale(primary: PrimaryView, target: int) -> None:
    """Move the worker count's target (SIGTTIN: one more, SIGTTOU: one fewer; never below one)."""
    if primary.stopping_since is not None:
        return
    if target < 1:
        log.info("not removing the last worker: a cluster keeps at least one")
        return
    log.info("scaling from %d to %d workers", primary.target, target)
    primary.target = target
    primary.announced = False
