"""Tie a child process's life to its parent's, so that no process outlives the one that made it."""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def set_parent_death_signal() -> bool:
    """Ask the kernel to SIGKILL this process when its parent (thread) exits. Linux only.

    Survives exec, so it also works between fork and exec (a subprocess's preexec_fn).
    Returns False where the platform has no such thing.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    return True


def die_with_parent(expected_parent: int | None = None) -> None:
    """Make this process exit when its parent dies, even when the parent is SIGKILLed.

    On Linux the kernel does it (prctl PR_SET_PDEATHSIG). Elsewhere a daemon thread watches
    the parent pid. Either way, if the parent is already gone, exit now.
    """
    parent = os.getppid() if expected_parent is None else expected_parent
    if not set_parent_death_signal():
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    # The parent may have died between fork and prctl: the signal would then never come.
    if os.getppid() != parent:
        os._exit(1)


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(0.25)
    os.kill(os.getpid(), signal.SIGKILL)
