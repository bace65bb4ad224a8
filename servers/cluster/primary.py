"""The primary: forks the workers, keeps their number up, restarts and stops them gracefully.

It serves no requests. Its main loop reads like a table of contents: wait for an event (a
signal, a worker message, a connection to hand out, an admin request), act on the signals,
let the policy act on time, kill hung workers, move a rolling restart on, keep the worker
count. Signal handlers only enqueue; the loop does the work. How connections reach the
workers is the policy's business (servers/cluster/policies/): the primary only tells it which
workers are ready and sends a connection to a worker when the policy asks.

A worker goes through these states:

    booting -> serving -> (superseded ->) draining -> gone

"superseded" is a rolling restart's middle step: its successor is booting, and it keeps
serving until the successor is ready; only then is it told to drain. Only booting and serving
workers hold a slot: a slot without one gets a new worker (after the crash backoff, if the
last one died).
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from servers.cluster import protocol
from servers.cluster.admin import AdminServer
from servers.cluster.backoff import Backoff
from servers.cluster.config import ClusterConfig
from servers.cluster.policies import make_policy
from servers.cluster.policies.base import Policy
from servers.cluster.protocol import Channel
from servers.cluster.worker import EXIT_BOOT_FAILED, preload_app, run_worker
from servers.listen import ListenError, warn_if_exposed

log = logging.getLogger("cluster")

HANDLED_SIGNALS = (
    signal.SIGCHLD,
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGUSR2,
    signal.SIGTTIN,
    signal.SIGTTOU,
)
RESTART_SIGNALS = (signal.SIGHUP, signal.SIGUSR2)

BOOTING, SERVING, SUPERSEDED, DRAINING = "booting", "serving", "superseded", "draining"
# A booting worker sends no heartbeat yet; it gets at least this long before it counts as hung.
MIN_BOOT_TIMEOUT_S = 10.0


@dataclass
class Worker:
    pid: int
    slot: int
    channel: Channel
    started: float = field(default_factory=time.monotonic)
    state: str = BOOTING
    last_heartbeat: float = field(default_factory=time.monotonic)
    # The last heartbeat's fields: rss_bytes, uptime_s, requests_served, time.
    beat: dict[str, Any] = field(default_factory=dict)
    killed_for: str | None = None

    @property
    def ready(self) -> bool:
        return self.state in (SERVING, SUPERSEDED)

    @property
    def holds_slot(self) -> bool:
        return self.state in (BOOTING, SERVING)


class Primary:
    def __init__(self, config: ClusterConfig, policy: Policy | None = None) -> None:
        self.config = config
        # The policy named by --policy, unless the caller brings its own (a lab's, say).
        self.policy: Policy = policy if policy is not None else make_policy(config)
        self.target = config.workers
        self.workers: dict[int, Worker] = {}
        self.signals: deque[int] = deque()
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
        self.restarts = 0
        # Rolling replacement: workers waiting to be replaced, one at a time, and the one in hand.
        self.to_replace: deque[tuple[int, str]] = deque()
        self.replacing: int | None = None
        # A naive restart in progress: every worker stopped and the port closed until all are gone.
        self.naive_restart = False
        # Worker -> primary messages, by verb.
        self.handlers: dict[str, Callable[[Worker, protocol.Message], None]] = {
            protocol.READY: self._on_ready,
            protocol.HEARTBEAT: self._on_heartbeat,
            protocol.RECYCLE: self._on_recycle,
        }

    # -- entry point -------------------------------------------------------------------------

    def run(self) -> int:
        warn_if_exposed(self.config.host)
        # The cluster knows the app only by its factory's name (--app); importing it here, once,
        # spares every forked worker the import.
        preload_app(self.config.app)
        self.policy.open()
        self._install_signals()
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
                self._replace_next()
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
                self._stop(graceful=True, why=signal.Signals(sig).name)
            elif sig == signal.SIGQUIT:
                self._stop(graceful=False, why="SIGQUIT")
            elif sig in RESTART_SIGNALS:
                self._restart(why=signal.Signals(sig).name)
            elif sig == signal.SIGTTIN:
                self._scale(self.target + 1)
            elif sig == signal.SIGTTOU:
                self._scale(self.target - 1)

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
                _signal(worker.pid, signal.SIGKILL)

    def _replace_next(self) -> None:
        """Move a rolling replacement on: one worker at a time, successor first."""
        if self.replacing is not None:
            if self.replacing in self.workers:
                return  # the old worker is still superseded or draining
            self.replacing = None
        if self.stopping_since is not None or self.naive_restart:
            self.to_replace.clear()
            return
        while self.to_replace:
            pid, why = self.to_replace.popleft()
            worker = self.workers.get(pid)
            if worker is None or worker.state != SERVING:
                continue
            log.info("replacing worker %d (slot %d): %s", pid, worker.slot, why)
            worker.state = SUPERSEDED
            self.replacing = pid
            self._spawn(worker.slot)
            return

    def _manage_workers(self) -> None:
        if self.stopping_since is not None:
            return
        if self.naive_restart:
            if self.workers:
                return
            if not self._reopen():
                return
        # Scaled down: the workers above the target drain away.
        for worker in list(self.workers.values()):
            if worker.slot >= self.target and worker.state != DRAINING:
                self._drain(worker, why="scaled down")
        used = {w.slot for w in self.workers.values() if w.holds_slot}
        # A backoff deadline for a slot that is filled or gone is moot (and would keep waking the loop).
        for slot in [s for s in self.not_before if s in used or s >= self.target]:
            del self.not_before[slot]
        now = time.monotonic()
        for slot in range(self.target):
            if slot not in used and now >= self.not_before.get(slot, 0.0):
                self.not_before.pop(slot, None)
                self._spawn(slot)

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

    # -- restarts and scaling ----------------------------------------------------------------

    def _restart(self, why: str) -> None:
        if self.stopping_since is not None:
            return
        if self.config.restart == "naive":
            if self.naive_restart:
                return
            log.info("%s: naive restart: stopping every worker and closing the port, then starting again", why)
            self.naive_restart = True
            self._close_port()
            for worker in list(self.workers.values()):
                self._drain(worker, why="naive restart")
            return
        serving = sorted((w for w in self.workers.values() if w.state == SERVING), key=lambda w: w.slot)
        log.info("%s: rolling restart of %d workers, one at a time", why, len(serving))
        queued = {pid for pid, _ in self.to_replace}
        self.to_replace.extend((w.pid, f"rolling restart ({why})") for w in serving if w.pid not in queued)

    def _scale(self, target: int) -> None:
        if self.stopping_since is not None:
            return
        if target < 1:
            log.info("not removing the last worker: a cluster keeps at least one")
            return
        log.info("scaling from %d to %d workers", self.target, target)
        self.target = target
        self.announced = False

    def _reopen(self) -> bool:
        """After a naive restart's stop: claim the port again. False (and stop) if it is gone."""
        try:
            self.policy.open()
        except ListenError as exc:
            log.error("cannot reopen the port after a naive restart: %s", exc)
            self.exit_code = exc.exit_code
            self._stop(graceful=False, why="the port could not be reopened")
            return False
        self.naive_restart = False
        self.announced = False
        return True

    # -- workers -----------------------------------------------------------------------------

    def _spawn(self, slot: int) -> None:
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
        worker = Worker(pid=pid, slot=slot, channel=ours)
        self.workers[pid] = worker
        self.selector.register(ours.sock, selectors.EVENT_READ, lambda _s, w=worker: self._on_message(w))

    def _forget_in_child(self) -> None:
        """Close, in a freshly forked worker, what belongs to the primary alone."""
        # First stop signals writing to the wakeup pipe: its fds are closed below and their
        # numbers may be reused by the worker's own sockets.
        signal.set_wakeup_fd(-1)
        self.selector.close()
        for worker in self.workers.values():
            worker.channel.close()
        self.policy.forget_in_child()
        if self.admin is not None:
            for conn in self.admin.pending:
                conn.close()
            self.admin.sock.close()
        os.close(self._wakeup_r)
        os.close(self._wakeup_w)

    def _drain(self, worker: Worker, why: str) -> None:
        """Tell a worker to stop taking connections, finish its requests and exit."""
        if worker.state == DRAINING:
            return
        log.info("worker %d (slot %d) draining: %s", worker.pid, worker.slot, why)
        worker.state = DRAINING
        try:
            # Over the channel, so it comes after every connection already handed to this worker.
            worker.channel.send(protocol.STOP)
        except OSError:
            _signal(worker.pid, signal.SIGTERM)

    def _on_message(self, worker: Worker) -> None:
        try:
            messages = worker.channel.receive()
        except (EOFError, ConnectionError, TimeoutError):
            # The worker is exiting; SIGCHLD will tell us how.
            self._unregister(worker)
            return
        for msg, fd in messages:
            if fd is not None:  # workers send no descriptors; never leak one that arrives
                os.close(fd)
            handler = self.handlers.get(msg.get("act", ""))
            if handler is None:
                log.warning("worker %d sent an unknown message %r", worker.pid, msg)
                continue
            handler(worker, msg)

    def _on_ready(self, worker: Worker, _msg: protocol.Message) -> None:
        worker.last_heartbeat = time.monotonic()
        if worker.state == BOOTING:
            worker.state = SERVING
        log.info("worker %d (slot %d) is serving", worker.pid, worker.slot)
        # A rolling restart's old worker stops taking connections only now that this one serves.
        for old in list(self.workers.values()):
            if old.slot == worker.slot and old.state == SUPERSEDED:
                self._drain(old, why=f"worker {worker.pid} serves in its place")
        if not self.announced and self._all_slots_serving():
            self.announced = True
            log.info("cluster ready: %d workers serving http://%s:%d", self.target, self.config.host, self.config.port)

    def _on_heartbeat(self, worker: Worker, msg: protocol.Message) -> None:
        worker.last_heartbeat = time.monotonic()
        worker.beat = {k: msg[k] for k in ("rss_bytes", "uptime_s", "requests_served", "time") if k in msg}
        limit = self.config.max_memory_mb
        rss = msg.get("rss_bytes", 0)
        if limit is not None and worker.state == SERVING and rss > limit * 1024 * 1024:
            self._queue_replacement(worker, f"rss {rss / 2**20:.0f} MB is over --max-memory {limit:g} MB")

    def _on_recycle(self, worker: Worker, msg: protocol.Message) -> None:
        self._queue_replacement(worker, str(msg.get("reason", "asked to be replaced")))

    def _queue_replacement(self, worker: Worker, why: str) -> None:
        if worker.pid != self.replacing and all(pid != worker.pid for pid, _ in self.to_replace):
            self.to_replace.append((worker.pid, why))

    def _all_slots_serving(self) -> bool:
        serving = {w.slot for w in self.workers.values() if w.ready}
        return all(slot in serving for slot in range(self.target))

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
            self._unregister(worker)
            worker.channel.close()
            self._after_exit(worker, status)

    def _after_exit(self, worker: Worker, status: int) -> None:
        how = _describe_exit(status)
        uptime = time.monotonic() - worker.started
        if self.stopping_since is not None or worker.state == DRAINING:
            log.info("worker %d %s", worker.pid, how)
        elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_BOOT_FAILED:
            log.error("worker %d could not boot; stopping the cluster instead of respawning", worker.pid)
            self.exit_code = EXIT_BOOT_FAILED
            self._stop(graceful=False, why="a worker could not boot")
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

    def _unregister(self, worker: Worker) -> None:
        try:
            self.selector.unregister(worker.channel.sock)
        except (KeyError, ValueError):
            pass

    def _stop(self, graceful: bool, why: str) -> None:
        if self.stopping_since is None:
            log.info("primary %d: %s, stopping %s", os.getpid(), why, "gracefully" if graceful else "now")
            self.stopping_since = time.monotonic()
            self._close_port()
        for worker in list(self.workers.values()):
            if graceful:
                self._drain(worker, why=why)
            else:
                _signal(worker.pid, signal.SIGKILL)

    def _close_port(self) -> None:
        """Stop taking connections in the primary (the workers close their own copies)."""
        self.policy.close()
        self.policy_wakeup = None

    def _kill_all(self) -> None:
        for worker in list(self.workers.values()):
            _signal(worker.pid, signal.SIGKILL)
        for pid in list(self.workers):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            worker = self.workers.pop(pid)
            self._unregister(worker)
            worker.channel.close()

    # -- health ------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        now = time.monotonic()
        return {
            "primary_pid": os.getpid(),
            "policy": self.policy.name,
            "target_workers": self.target,
            "uptime_s": round(now - self.started, 3),
            "restarts": self.restarts,
            "stopping": self.stopping_since is not None,
            "workers": [
                {
                    "pid": w.pid,
                    "slot": w.slot,
                    "state": w.state,
                    "rss_bytes": w.beat.get("rss_bytes"),
                    "uptime_s": round(now - w.started, 3),
                    "requests_served": w.beat.get("requests_served", 0),
                    "last_heartbeat": w.beat.get("time"),
                    "heartbeat_age_s": round(now - w.last_heartbeat, 3),
                }
                for w in sorted(self.workers.values(), key=lambda w: (w.slot, w.started))
            ],
        }

    # -- what a routing policy asks of the primary (servers/cluster/policies/base.py Router) ----

    def ready_workers(self) -> list[Worker]:
        return [w for w in sorted(self.workers.values(), key=lambda w: w.slot) if w.ready]

    def hand_over(self, worker: Worker, conn: socket.socket) -> bool:
        try:
            # Over the channel, so it arrives in order with the worker's other orders (a STOP after it).
            worker.channel.send(protocol.CONN, fd=conn.fileno())
        except OSError:
            return False  # that worker just died or hangs: the policy offers it to the next one
        return True

    # -- signals -----------------------------------------------------------------------------

    def _install_signals(self) -> None:
        self._wakeup_r, self._wakeup_w = os.pipe()
        for fd in (self._wakeup_r, self._wakeup_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)
        self.selector.register(self._wakeup_r, selectors.EVENT_READ, self._drain_wakeup)
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, self._enqueue_signal)

    def _enqueue_signal(self, signum: int, _frame: object) -> None:
        self.signals.append(signum)

    def _drain_wakeup(self, fd: int) -> None:
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _describe_exit(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"was killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exited with code {os.WEXITSTATUS(status)}"
