"""Lab 1, a solution: fork N workers on one socket, replace any that dies, never leave one behind.

python primary.py --port 8000 --workers 2
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import sys
import traceback

import worker

from plumbing.cores import usable_core_count
from plumbing.lifeline import die_with_parent
from servers.listen import open_listener


def spawn(sock: socket.socket) -> int:
    """Fork one worker serving ``sock``. Returns the worker's pid (in the primary; the child never returns)."""
    primary = os.getpid()
    pid = os.fork()
    if pid == 0:  # in the child: from here on this process is a worker
        # The kernel SIGKILLs us when the primary dies, however it dies (prctl PR_SET_PDEATHSIG).
        die_with_parent(primary)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the primary's handler is not ours
        code = 0
        try:
            worker.serve(sock)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)  # never return into the primary's code
    return pid


def describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def main() -> int:
    parser = argparse.ArgumentParser(description="the primary of a fork cluster")
    parser.add_argument("--port", type=int, default=8000)
    # The cores this process may use (its affinity mask, a CPU quota), not os.cpu_count(): the machine's.
    parser.add_argument("--workers", type=int, default=usable_core_count())
    args = parser.parse_args()

    # Opened once, here, before any fork: every worker inherits this very socket.
    sock = open_listener("127.0.0.1", args.port)
    print(f"primary {os.getpid()} on http://127.0.0.1:{args.port}", flush=True)
    # SIGTERM ends the wait below as Ctrl-C does, so the `finally` stops the workers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    workers = {spawn(sock) for _ in range(args.workers)}
    print(f"started workers {sorted(workers)}", flush=True)
    try:
        while True:
            pid, status = os.wait()  # blocks until a worker dies
            workers.discard(pid)
            new = spawn(sock)
            workers.add(new)
            print(f"worker {pid} died ({describe(status)}); started {new} in its place", flush=True)
    finally:
        for pid in workers:
            with contextlib.suppress(ProcessLookupError):  # Ctrl-C reaches the workers too
                os.kill(pid, signal.SIGTERM)  # each finishes its requests in flight, then exits
        for pid in workers:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
