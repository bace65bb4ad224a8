"""Lab 1: the primary of a fork cluster. It serves no requests: it starts workers and keeps them up.

    python primary.py --port 8000 --workers 2

What it does now: opens the port, forks ONE worker, and waits for it. Your job (README.md):

  TODO 1  fork --workers workers, all serving the one socket opened below;
  TODO 2  when a worker dies, fork another in its place (os.wait() tells you which one died);
  TODO 3  make every worker die with the primary, even when the primary is killed by SIGKILL
          (no `finally` runs then: ask the kernel, Linux's prctl; on macOS, watch for it;
          see plumbing/lifeline.py);
  and on SIGTERM or Ctrl-C, stop the workers and exit.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import traceback

import worker

from plumbing.cores import usable_core_count
from servers.listen import open_listener


def spawn(sock: socket.socket) -> int:
    """Fork one worker serving ``sock``. Returns the worker's pid (in the primary; the child never returns)."""
    pid = os.fork()
    if pid == 0:  # in the child: from here on this process is a worker
        # TODO 3: die with the primary.
        code = 0
        try:
            worker.serve(sock)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)  # never return into the primary's code
    return pid


def main() -> int:
    parser = argparse.ArgumentParser(description="the primary of a fork cluster")
    parser.add_argument("--port", type=int, default=8000)
    # The cores this process may use (its affinity mask, a CPU quota), not os.cpu_count(): the machine's.
    parser.add_argument("--workers", type=int, default=usable_core_count())
    args = parser.parse_args()

    # Opened once, here, before any fork: every worker inherits this very socket.
    sock = open_listener("127.0.0.1", args.port)
    print(f"primary {os.getpid()} on http://127.0.0.1:{args.port}", flush=True)

    # TODO 1: start args.workers workers, not one.
    pid = spawn(sock)
    print(f"started worker {pid}", flush=True)

    # TODO 2: keep the number of workers up: when one dies, start another.
    os.waitpid(pid, 0)
    print(f"worker {pid} has gone; the primary stops", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
