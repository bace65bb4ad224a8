"""Tie a child process's life to its parent's, so that no process outlives the one that made it.

Two mechanisms, one promise ("the child dies when its parent dies, even by SIGKILL"):

- Linux: the kernel does it. ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` in the child, between fork and
  exec (``set_parent_death_signal``), or in a forked Python child (``die_with_parent``).
- Elsewhere (macOS, the BSDs: no PR_SET_PDEATHSIG): a lifeline pipe (``Lifeline``). The parent
  holds the pipe's write end and nothing else ever writes to it; a tiny watcher process
  (plumbing/lifeline_watch.py) blocks reading the other end. Whenever the parent goes, however
  it goes, the kernel closes its descriptors, the watcher reads end-of-file and SIGKILLs the
  child's process group.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

_PR_SET_PDEATHSIG = 1

# Run by path, with -S (no site): it must start in milliseconds and need nothing but the stdlib,
# whether or not the kit is installed and whatever the child's working directory is.
WATCHER = Path(__file__).with_name("lifeline_watch.py")
# How long stopping the watcher may take before it is killed (it exits as soon as it reads EOF).
WATCHER_EXIT_S = 5.0


def has_parent_death_signal() -> bool:
    """Whether the kernel can kill a child when its parent dies (PR_SET_PDEATHSIG: Linux only)."""
    return sys.platform.startswith("linux")


# Loaded here, in the parent: dlopen between fork and exec of a threaded parent (a notebook kernel
# with its live sampler) could wait forever on a loader lock another thread held at the fork.
_LIBC = ctypes.CDLL(None, use_errno=True) if has_parent_death_signal() else None


def set_parent_death_signal() -> bool:
    """Ask the kernel to SIGKILL this process when its parent (thread) exits. Linux only.

    Survives exec, so it also works between fork and exec (a subprocess's preexec_fn).
    Returns False where the platform has no such thing: then the parent needs a ``Lifeline``.
    """
    if not has_parent_death_signal() or _LIBC is None:
        return False
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
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


class Lifeline:
    """The parent's end of a lifeline pipe, and the watcher that kills process group ``pgid`` at EOF.

    ``release()`` closes our end on purpose (the group is stopped, or its leader has been reaped
    and its pgid could be reused): the watcher then kills what is left of the group and exits.
    The write end is close-on-exec, so no other child the parent execs keeps it open. One caveat:
    a child forked without exec (multiprocessing's fork) holds a copy until it exits.
    """

    def __init__(self, pgid: int, env: dict[str, str] | None = None) -> None:
        read_end, self._write_end = os.pipe()
        try:
            self.watcher: subprocess.Popen[bytes] | None = subprocess.Popen(
                [sys.executable, "-S", str(WATCHER), str(pgid)],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                # Its own session: a Ctrl-C in the parent's terminal must not kill the watcher
                # while the parent is still stopping the group gracefully.
                start_new_session=True,
            )
        except BaseException:
            os.close(self._write_end)
            raise
        finally:
            os.close(read_end)

    def release(self) -> None:
        """Close our end and wait for the watcher to exit (idempotent)."""
        if self._write_end >= 0:
            os.close(self._write_end)
            self._write_end = -1
        if self.watcher is not None:
            try:
                self.watcher.wait(WATCHER_EXIT_S)
            except subprocess.TimeoutExpired:
                self.watcher.kill()
                self.watcher.wait()
            self.watcher = None
