"""The primary: forks the workers, keeps their number up, and stops them gracefully.

It serves no requests. Its main loop reads like a table of contents: wait for an event
(a signal, a worker message, a connection to hand out), reap dead workers, respawn.
Signal handlers only enqueue; the loop does the work.
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

from servers.cluster import protocol
from servers.cluster.config import ClusterConfig
from servers.cluster.policies import Policy, make_policy
from servers.cluster.protocol import Channel
from servers.cluster.worker import EXIT_BOOT_FAILED, run_worker
from servers.listen import warn_if_exposed

log = logging.getLogger("cluster")

HANDLED_SIGNALS = (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGQUIT)


@dataclass
class Worker:
    pid: int
    slot: int
    channel: Channel
    started: float = field(default_factory=time.monotonic)
    ready: bool = False


class Primary:
    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.policy: Policy = make_policy(config)
        self.workers: dict[int, Worker] = {}
        self.signals: deque[int] = deque()
        self.selector = selectors.DefaultSelector()
        self.stopping_since: float | None = None
        self.exit_code = 0
        self.announced = False
        # Accepted connections a peeking policy waits on: socket -> monotonic deadline.
        self.peeking: dict[socket.socket, float] = {}
        # Worker -> primary messages, by verb.
        self.handlers: dict[str, Callable[[Worker, protocol.Message], None]] = {
            protocol.READY: self._on_ready,
        }

    # -- entry point -------------------------------------------------------------------------

    def run(self) -> int:
        warn_if_exposed(self.config.host)
        self.policy.open()
        self._install_signals()
        listener = self.policy.primary_listener()
        if listener is not None:
            self.selector.register(listener, selectors.EVENT_READ, self._hand_out_connections)
        log.info(
            "primary %d starting %d workers (policy %s) on http://%s:%d",
            os.getpid(),
            self.config.workers,
            self.policy.name,
            self.config.host,
            self.config.port,
        )
        try:
            while not self._finished():
                self._wait_for_events(timeout=0.5)
                self._handle_signals()
                self._route_overdue_peeks()
                self._manage_workers()
                self._kill_stragglers()
        finally:
            self._kill_all()
            self.policy.close()
        log.info("primary %d stopped", os.getpid())
        return self.exit_code

    # -- the main loop's steps ---------------------------------------------------------------

    def _wait_for_events(self, timeout: float) -> None:
        for key, _mask in self.selector.select(timeout):
            key.data(key.fileobj)

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.popleft()
            if sig == signal.SIGCHLD:
                self._reap()
            elif sig in (signal.SIGTERM, signal.SIGINT):
                self._stop(graceful=True, why=signal.Signals(sig).name)
            elif sig == signal.SIGQUIT:
                self._stop(graceful=False, why="SIGQUIT")

    def _manage_workers(self) -> None:
        if self.stopping_since is not None:
            return
        used = {w.slot for w in self.workers.values()}
        for slot in range(self.config.workers):
            if slot not in used:
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

    # -- workers -----------------------------------------------------------------------------

    def _spawn(self, slot: int) -> None:
        ours, theirs = Channel.pair()
        pid = os.fork()
        if pid == 0:  # the child: becomes a worker and never comes back here
            ours.close()
            self._forget_in_child()
            run_worker(self.config, theirs, self.policy.worker_listener, primary_pid=os.getppid())
        theirs.close()
        worker = Worker(pid=pid, slot=slot, channel=ours)
        self.workers[pid] = worker
        self.selector.register(ours.sock, selectors.EVENT_READ, lambda _s, w=worker: self._on_message(w))

    def _forget_in_child(self) -> None:
        """Close, in a freshly forked worker, what belongs to the primary alone."""
        self.selector.close()
        for worker in self.workers.values():
            worker.channel.close()
        listener = self.policy.primary_listener()
        if listener is not None:
            listener.close()
        for conn in self.peeking:
            conn.close()
        os.close(self._wakeup_r)
        os.close(self._wakeup_w)

    def _on_message(self, worker: Worker) -> None:
        try:
            messages = worker.channel.receive()
        except (EOFError, ConnectionError):
            # The worker is exiting; SIGCHLD will tell us how.
            self.selector.unregister(worker.channel.sock)
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
        worker.ready = True
        log.info("worker %d (slot %d) is serving", worker.pid, worker.slot)
        if (
            not self.announced
            and len(self.workers) == self.config.workers
            and all(w.ready for w in self.workers.values())
        ):
            self.announced = True
            log.info(
                "cluster ready: %d workers serving http://%s:%d", len(self.workers), self.config.host, self.config.port
            )

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
            self._forget(worker)
            how = _describe_exit(status)
            if self.stopping_since is not None:
                log.info("worker %d %s", pid, how)
            elif os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_BOOT_FAILED:
                log.error("worker %d could not boot; stopping the cluster instead of respawning", pid)
                self.exit_code = EXIT_BOOT_FAILED
                self._stop(graceful=False, why="a worker could not boot")
            else:
                log.warning("worker %d (slot %d) %s; starting a new one", pid, worker.slot, how)

    def _forget(self, worker: Worker) -> None:
        try:
            self.selector.unregister(worker.channel.sock)
        except (KeyError, ValueError):
            pass
        worker.channel.close()

    def _stop(self, graceful: bool, why: str) -> None:
        if self.stopping_since is None:
            log.info("primary %d: %s, stopping %s", os.getpid(), why, "gracefully" if graceful else "now")
            self.stopping_since = time.monotonic()
            listener = self.policy.primary_listener()
            if listener is not None:
                self.selector.unregister(listener)
            self.policy.close()
            for conn in list(self.peeking):
                self.selector.unregister(conn)
                conn.close()
            self.peeking.clear()
        for worker in self.workers.values():
            _signal(worker.pid, signal.SIGTERM if graceful else signal.SIGKILL)

    def _kill_all(self) -> None:
        for worker in list(self.workers.values()):
            _signal(worker.pid, signal.SIGKILL)
        for pid in list(self.workers):
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
            self._forget(self.workers.pop(pid))

    # -- policies that route (rr, and any that peeks): the primary accepts and hands out ----------

    def _hand_out_connections(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _addr = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. EMFILE: leave the rest in the backlog for the next round
                log.warning("accept failed: %s", exc)
                return
            if self.policy.peeks:
                # Route once the client has said something (or the wait is over).
                conn.setblocking(False)
                self.peeking[conn] = time.monotonic() + self.policy.peek_timeout
                self.selector.register(conn, selectors.EVENT_READ, self._route_peeked)
            else:
                with conn:
                    self._route(conn)

    def _route_peeked(self, conn: socket.socket) -> None:
        self.peeking.pop(conn, None)
        self.selector.unregister(conn)
        with conn:
            self._route(conn)

    def _route_overdue_peeks(self) -> None:
        now = time.monotonic()
        for conn in [c for c, deadline in self.peeking.items() if deadline <= now]:
            self._route_peeked(conn)

    def _route(self, conn: socket.socket) -> None:
        """Offer ``conn`` to the workers the policy names, in its order, until one takes it."""
        ready = self._routable_workers()
        if not ready:
            return  # no worker can take it: closing it is the honest answer (the client sees a reset)
        for worker in self.policy.route(conn, ready):
            try:
                worker.channel.send(protocol.CONN, fd=conn.fileno())
                return
            except OSError:
                continue  # that worker just died: try the next one

    def _routable_workers(self) -> list[Worker]:
        return [w for w in sorted(self.workers.values(), key=lambda w: w.slot) if w.ready]

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
