"""The watcher at the far end of a lifeline pipe (plumbing/lifeline.py), where the kernel has no
PR_SET_PDEATHSIG (macOS): ``python -S lifeline_watch.py PGID`` with the pipe's read end as stdin.

It reads until end-of-file, which comes when the parent closes its end or dies (by SIGKILL too:
the kernel closes a dead process's descriptors), then SIGKILLs process group PGID and exits.
Standard library only, and run by path: it must start fast wherever the child runs.
"""

from __future__ import annotations

import os
import signal
import sys


def watch(pgid: int, fd: int = 0) -> None:
    # A terminal's Ctrl-C goes to the parent, which stops the group itself; the watcher stays
    # until the parent is done (or dead).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            if not os.read(fd, 4096):
                break
        except InterruptedError:
            continue
        except OSError:
            break
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group has already gone


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit() or int(argv[0]) <= 1:
        print("usage: python -S lifeline_watch.py PGID  (the lifeline pipe on stdin)", file=sys.stderr)
        return 2
    watch(int(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
