"""The primary: forks the workers, keeps their number up, restarts and stops them gracefully.

It serves no requests. Its main loop reads like a table of contents: wait for an event (a
signal, a worker message, a connection to hand out, an admin request), act on the signals,
let the policy act on time, kill hung workers, move a rolling restart on, keep the worker
count. Signal handlers only enqueue (servers/cluster/signals.py); the loop does the work. How
connections reach the workers is the policy's business (servers/cluster/policies/): the primary
only tells it which workers are ready and sends a connection to a worker when the policy asks.
Restarts and scaling are servers/cluster/restart.py; a worker's states are
servers/cluster/worker_record.py. Only booting and serving workers hold a slot: a slot without
one gets a new worker (after the crash backoff, if the last one died).
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import time
from typing import Any

from plumbing import env
from servers.cluster import protocol
from servers.cluster.admin import AdminServer
from servers.cluster.backoff import Backoff
from servers.cluster.config import ClusterConfig
from servers.cluster.health import cluster_health
from servers.cluster.messages import WorkerMessages
from servers.cluster.policies import make_policy
from servers.cluster.policies.base import Policy
from servers.cluster.protocol import Channel
from servers.cluster.restart import Restarts, scale
from servers.cluster.signals import RESTART_SIGNALS, SignalQueue
from servers.cluster.worker import EXIT_BOOT_FAILED, preload_app, run_worker
from servers.cluster.worker_record import (
    BOOTING,
    DRAINING,
    SUPERSEDED,
    WorkerRecord,
    describe_exit,
    send_signal,
)
from servers.listen import ListenError, warn_if_exposed

log = logging.getLogger("cluster")

# A booting worker sends no heartbeat yet; it gets at least this long before it counts as hung.
MIN_BOOT_TIMEOUT_S = 10.0


class Primary:
    def __init__(self, config: ClusterConfig, policy: Policy | None = None) -> None:
        self.config = config
        # The policy named by --policy, unless the caller brings its own (a lab's, say).
        self.policy: Policy = policy if policy is not None else make_policy(config)
        self.target = config.workers
        self.workers: dict[int, WorkerRecord] = {}
        # The workers that may take a connection, in slot order: read for every connection, so kept,
        # and made again only when a worker comes, goes or changes state (routing_changed).
        self._ready: list[WorkerRecord] | None = None
        self.signals = SignalQueue()
        self.selector = selectors.DefaultSelector()
        self.admin: AdminServer | None = None
        self.stopping_since: float | None = None
        self.exit_code = 0
        self.announced = False
        self.started = time.monotonic()
        # When the policy next needs the loop to run (a peek's deadline), if ever.
        self.policy_wakeup: float | None = None
        # Crash backoff, and the earliest time each slot may get a new worker.
        self.backoff: dict[int, Backoff] = {}
        self.not_before: dict[int, float] = {}
        self.restarts = 0  # workers that died unasked and were replaced
        self.restarting = Restarts(self)
        self.messages = WorkerMessages(self)  # worker -> primary messages, by verb

    # -- entry point -------------------------------------------------------------------------

    def run(self) -> int:
        warn_if_exposed(self.config.host)
        # The cluster knows the app only by its factory's name (--app); importing it here, once,
        # spares every forked worker the import.
        preload_app(self.config.app)
        # Every worker's pools get its share of the cores, not all of them (servers.app reads it).
        os.environ[env.WORKERS] = str(self.target)
        self.policy.open()
        self.signals.install(self.selector)
        self.policy.attach(self.selector, self)
        if self.config.admin_port is not None:
            try:
                self.admin = AdminServer(self.selector, self.config.admin_port, self.health)
            except ListenError as exc:
                raise ListenError(f"admin port: {exc}".replace("--port", "--admin-port"), exc.exit_code) from None
            log.info("admin: http://127.0.0.1:%d/cluster-health", self.admin.port)
        log.info(
            "primary %d starting %d workers (policy %s) on http://%s:%d",
            os.getpid(),
            self.target,
            self.policy.name,
            self.config.host,
            self.config.port,
        )
        try:
            while not self._finished():
                self._wait_for_events()
                self._handle_signals()
                self._let_policy_act()
                self._kill_hung_workers()
                self.restarting.replace_next()
                self._manage_workers()
                self._kill_stragglers()
        finally:
            self._kill_all()
            self.policy.close()
            if self.admin is not None:
                self.admin.close()
        log.info("primary %d stopped", os.getpid())
        return self.exit_code

    # -- the main loop's steps ---------------------------------------------------------------

    def _wait_for_events(self) -> None:
        timeout = 0.5
        now = time.monotonic()
        for when in [*self.not_before.values(), self.policy_wakeup]:
            if when is not None:
                timeout = min(timeout, max(0.0, when - now))
        for key, _mask in self.selector.select(timeout):
            key.data(key.fileobj)
        if self.admin is not None:
            self.admin.close_overdue()

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.popleft()
            if sig == signal.SIGCHLD:
                self._reap()
            elif sig in (signal.SIGTERM, signal.SIGINT):
                self.stop(graceful=True, why=signal.Signals(sig).name)
            elif sig == signal.SIGQUIT:
                self.stop(graceful=False, why="SIGQUIT")
            elif sig in RESTART_SIGNALS:
                self.restarting.restart(why=signal.Signals(sig).name)
            elif sig == signal.SIGTTIN:
                scale(self, self.target + 1)
            elif sig == signal.SIGTTOU:
                scale(self, self.target - 1)

    def _let_policy_act(self) -> None:
        """A routing policy accepts only while a worker is ready, and finishes overdue peeks."""
        self.policy_wakeup = self.policy.tick(time.monotonic())

    def _kill_hung_workers(self) -> None:
        """A worker whose event loop has not beaten for --timeout seconds is blocked: kill it."""
        if self.config.timeout <= 0:
            return
        now = time.monotonic()
        for worker in self.workers.values():
            allowed = self.config.timeout if worker.state != BOOTING else max(self.config.timeout, MIN_BOOT_TIMEOUT_S)
            if worker.killed_for is None and now - worker.last_heartbeat > allowed:
                log.warning(
                    "worker %d sent no heartbeat for %.1f s (timeout %g s): killing it",
                    worker.pid,
                    now - worker.last_heartbeat,
                    self.config.timeout,
                )
                worker.killed_for = "timeout"
                send_signal(worker.pid, signal.SIGKILL)

    def _manage_workers(self) -> None:
        if self.stopping_since is not None:
            return
        if not self.restarting.naive_gap_over():
            return
        # Scaled down: the workers above the target drain away.
        for worker in list(self.workers.values()):
            if worker.slot >= self.target and worker.state != DRAINING:
                self.drain(worker, why="scaled down")
        used = {w.slot for w in self.workers.values() if w.holds_slot}
        # A backoff deadline for a slot that is filled or gone is moot (and would keep waking the loop).
        for slot in [s for s in self.not_before if s in used or s >= self.target]:
            del self.not_before[slot]
        now = time.monotonic()
        for slot in range(self.target):
            if slot not in used and now >= self.not_before.get(slot, 0.0):
                self.not_before.pop(slot, None)
                self.spawn(slot)

    def _kill_stragglers(self) -> None:
        """Workers still busy past the graceful timeout (plus a margin) are killed."""
        if self.stopping_since is None:
            return
        if time.monotonic() - self.stopping_since > self.config.graceful_timeout + 2.0:
            for worker in self.workers.values():
                log.warning("worker %d did not stop in time; killing it", worker.pid)
            self._kill_all()

    def _finished(self) -> bool:
        return self.stopping_since is not None and not self.workers

    # -- workers -----------------------------------------------------------------------------

    def spawn(self, slot: int) -> None:
        ours, theirs = Channel.pair()
        pid = os.fork()
        if pid == 0:  # the child: becomes a worker and never comes back here
            ours.close()
            self._forget_in_child()
            run_worker(self.config, theirs, self.policy, primary_pid=os.getppid())
        theirs.close()
        # Bounded sends: a hung worker must not stall the primary (a send that times out is an
        # OSError, and the connection goes to the next worker).
        ours.sock.settimeout(2.0)
        worker = WorkerRecord(pid=pid, slot=slot, channel=ours)
        self.workers[pid] = worker
        self.routing_changed()
        self.selector.register(ours.sock, selectors.EVENT_READ, lambda _s, w=worker: self.messages.receive(w))

    def _forget_in_child(self) -> None:
        """Close, in a freshly forked worker, what belongs to the primary alone."""
        self.signals.forget_in_child()
        self.selector.close()
        for worker in self.workers.values():
            worker.channel.close()
        self.policy.forget_in_child()
        if self.admin is not None:
            for conn in self.admin.pending:
                conn.close()
            self.admin.sock.close()

    def drain(self, worker: WorkerRecord, why: str) -> None:
        """Tell a worker to stop taking connections, finish its requests and exit."""
        if worker.state == DRAINING:
            return
        log.info("worker %d (slot %d) draining: %s", worker.pid, worker.slot, why)
        worker.state = DRAINING
        self.routing_changed()
        try:
            # Over the channel, so it comes after every connection already handed to this worker.
            worker.channel.send(protocol.STOP)
        except OSError:
            send_signal(worker.pid, signal.SIGTERM)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self.workers.pop(pid, None)
            if worker is None:
                continue
            self.unregister(worker)
            worker.channel.close()
            self._after_exit(worker, status)

    def _after_exit(self, worker: WorkerRecord, status: int) -> None:
        how = describe_exit(status)
        uptime = time.monotonic() - worker.started
        if self.stopping_since is not None or worker.state == DRAINING:
            log.info("worker %d %s", worker.pid, how)
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_BOOT_FAILED:
            log.error("worker %d could not boot; stopping the cluster instead of respawning", worker.pid)
            self.exit_code = EXIT_BOOT_FAILED
            self.stop(graceful=False, why="a worker could not boot")
        elif worker.state == SUPERSEDED:
            log.warning("worker %d %s while its successor was booting", worker.pid, how)
        else:
            self.restarts += 1
            delay = self.backoff.setdefault(worker.slot, Backoff()).after_crash(uptime)
            self.not_before[worker.slot] = time.monotonic() + delay
            log.warning(
                "worker %d (slot %d) %s after %.1f s; starting a new one in %d ms",
                worker.pid,
                worker.slot,
                how,
                uptime,
                round(delay * 1000),
            )

    def unregister(self, worker: WorkerRecord) -> None:
        self.routing_changed()  # every worker that leaves the table passes here
        try:
            self.selector.unregister(worker.channel.sock)
        except (KeyError, ValueError):
            pass

    def routing_changed(self) -> None:
        """A worker came, went or changed state: the next connection asks again who is ready."""
        self._ready = None

    def stop(self, graceful: bool, why: str) -> None:
        if self.stopping_since is None:
            log.info("primary %d: %s, stopping %s", os.getpid(), why, "gracefully" if graceful else "now")
            self.stopping_since = time.monotonic()
            self.close_port()
        for worker in list(self.workers.values()):
            if graceful:
                self.drain(worker, why=why)
            else:
                send_signal(worker.pid, signal.SIGKILL)

    def close_port(self) -> None:
        """Stop taking connections in the primary (the workers close their own copies)."""
        self.policy.close()
        self.policy_wakeup = None

    def _kill_all(self) -> None:
        for worker in list(self.workers.values()):
            send_signal(worker.pid, signal.SIGKILL)
        for pid in list(self.workers):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            worker = self.workers.pop(pid)
            self.unregister(worker)
            worker.channel.close()

    def health(self) -> dict[str, Any]:
        return cluster_health(self)

    # -- what a routing policy asks of the primary (servers/cluster/policies/base.py Router) ----

    def ready_workers(self) -> list[WorkerRecord]:
        if self._ready is None:
            self._ready = [w for w in sorted(self.workers.values(), key=lambda w: w.slot) if w.ready]
        return self._ready

    def hand_over(self, worker: WorkerRecord, conn: socket.socket) -> bool:
        try:
            # Over the channel, so it arrives in order with the worker's other orders (a STOP after it).
            worker.channel.send(protocol.CONN, fd=conn.fileno())
        except OSError:
            return False  # that worker just died or hangs: the policy offers it to the next one
        return True
