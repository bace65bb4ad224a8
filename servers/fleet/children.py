"""The fleet's child processes: each in its own process group, killed by the kernel if the fleet dies.

This is corelab.procs.ManagedProcess's contract, kept on the servers' side of the layers (servers
do not import the harness): a new session per child, SIGTERM to the whole group on stop and
SIGKILL to whatever lingers, and PR_SET_PDEATHSIG (servers.lifeline) so that a SIGKILLed fleet
takes its hosts, its Redis and its load balancer with it. Optionally the child is pinned to
some cores before it execs, so a host's primary and every worker it forks stay on them.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from servers.lifeline import set_parent_death_signal


class Child:
    """One process the fleet started; its output goes to ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cores: Sequence[int] | None = None,
        grace: float = 5.0,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.grace = grace
        self.cores = list(cores) if cores else None
        with open(log_path, "wb") as log:
            # The child has its own copy of the log's descriptor; ours can close at once.
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                start_new_session=True,
                preexec_fn=self._in_child,
            )

    def _in_child(self) -> None:
        # Between fork and exec, in the child: both survive exec and are inherited by its forks.
        set_parent_death_signal()
        if self.cores:
            os.sched_setaffinity(0, self.cores)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def log_tail(self, lines: int = 1) -> str:
        """The last non-empty lines of the child's output, for a one-line error."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        kept = [line.strip() for line in text.splitlines() if line.strip()]
        return " | ".join(kept[-lines:])

    def terminate(self) -> None:
        """SIGTERM the child's whole group (a host's primary stops its workers gracefully)."""
        if self.alive():
            signal_group(self.pid, signal.SIGTERM)

    def wait_stopped(self, deadline_s: float) -> int:
        """Wait up to ``deadline_s`` for the child, then SIGKILL whatever is left of its group."""
        try:
            self.popen.wait(max(0.0, deadline_s))
        except subprocess.TimeoutExpired:
            pass
        # The leader may be gone while members of its group linger: they go too.
        signal_group(self.pid, signal.SIGKILL)
        return self.popen.wait()

    def stop(self) -> int:
        self.terminate()
        return self.wait_stopped(self.grace)


def signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
