"""Lab 5, a solution: a rolling restart. Some worker accepts on the one socket at every moment.

python primary.py --port 8000 --workers 2      then: kill -HUP <primary pid>
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
from dataclasses import dataclass

import worker

from plumbing.lifeline import die_with_parent
from servers.listen import open_listener

SIGNALS = {signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM, signal.SIGINT}


@dataclass
class Worker:
    pid: int
    ready_fd: int  # becomes readable when the worker accepts connections


class Primary:
    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.sock = open_listener("127.0.0.1", port)
        self.workers: dict[int, Worker] = {}

    def start_worker(self) -> Worker:
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: a worker; it handles its own signals and dies with the primary
            os.close(ready_r)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            die_with_parent()
            os._exit(worker.run(self.sock, ready_w))
        os.close(ready_w)
        self.workers[pid] = Worker(pid, ready_r)
        return self.workers[pid]

    def stop_worker(self, old: Worker) -> None:
        """SIGTERM one worker and wait until it has drained and exited."""
        self.workers.pop(old.pid, None)  # so that its exit is not taken for a crash
        os.kill(old.pid, signal.SIGTERM)
        os.waitpid(old.pid, 0)
        os.close(old.ready_fd)

    def restart(self) -> None:
        """Rolling: one worker at a time, the new one ready before the old one stops. The socket stays open."""
        for old in list(self.workers.values()):
            new = self.start_worker()
            if not wait_ready(new):
                print(f"worker {new.pid} did not get ready: keeping {old.pid}, restart abandoned", flush=True)
                self.stop_worker(new)
                return
            self.stop_worker(old)  # it drains: no new connections, its requests in flight finish

    def run(self) -> None:
        for _ in range(self.count):
            self.start_worker()
        print(f"primary {os.getpid()}: {self.count} workers on http://127.0.0.1:{self.port}", flush=True)
        while True:
            sig = signal.sigwaitinfo(SIGNALS).si_signo  # the signals wait here, in order, one at a time
            if sig == signal.SIGHUP:
                print("SIGHUP: restarting the workers", flush=True)
                self.restart()
                print(f"restarted: workers {sorted(self.workers)}", flush=True)
            elif sig == signal.SIGCHLD:
                self.replace_dead()
            else:  # SIGTERM, SIGINT
                for old in list(self.workers.values()):
                    self.stop_worker(old)
                return

    def replace_dead(self) -> None:
        while True:
            try:
                pid, _status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.workers:
                os.close(self.workers.pop(pid).ready_fd)
                print(f"worker {pid} died; starting another", flush=True)
                self.start_worker()


def wait_ready(new: Worker, timeout: float = 10.0) -> bool:
    """True once ``new`` accepts connections; False if it has not within ``timeout`` seconds."""
    readable, _, _ = select.select([new.ready_fd], [], [], timeout)
    return bool(readable) and os.read(new.ready_fd, 1) == b"r"


def main() -> int:
    parser = argparse.ArgumentParser(description="a fork cluster's primary; SIGHUP restarts the workers")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    # Blocked: the signals wait for sigwaitinfo in run(), never interrupting the primary midway.
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    Primary(args.port, args.workers).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
