"""The primary's signals: each handler only enqueues it; the main loop acts on the queue.

A wakeup pipe (``signal.set_wakeup_fd``) is registered with the primary's selector, so a signal
that arrives while the loop sleeps in ``select`` wakes it at once.
"""

from __future__ import annotations

import os
import selectors
import signal
from collections import deque

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


class SignalQueue:
    """The signals received and not yet acted on, oldest first."""

    def __init__(self) -> None:
        self.pending: deque[int] = deque()
        self._wakeup_r: int | None = None
        self._wakeup_w: int | None = None

    def install(self, selector: selectors.BaseSelector) -> None:
        self._wakeup_r, self._wakeup_w = os.pipe()
        for fd in (self._wakeup_r, self._wakeup_w):
            os.set_blocking(fd, False)
        signal.set_wakeup_fd(self._wakeup_w, warn_on_full_buffer=False)
        selector.register(self._wakeup_r, selectors.EVENT_READ, self._drain_wakeup)
        for sig in HANDLED_SIGNALS:
            signal.signal(sig, self._enqueue)

    def __bool__(self) -> bool:
        return bool(self.pending)

    def popleft(self) -> int:
        return self.pending.popleft()

    def forget_in_child(self) -> None:
        """In a freshly forked worker: stop writing to the wakeup pipe, then close it.

        First the wakeup fd: the pipe's numbers may be reused by the worker's own sockets.
        """
        signal.set_wakeup_fd(-1)
        for fd in (self._wakeup_r, self._wakeup_w):
            if fd is not None:
                os.close(fd)

    def _enqueue(self, signum: int, _frame: object) -> None:
        self.pending.append(signum)

    def _drain_wakeup(self, fd: int) -> None:
        try:
            while os.read(fd, 4096):
                pass
        except BlockingIOError:
            pass
