"""Child processes the kit owns: each in its own process group, tagged as the kit's, always stopped, never orphaned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import psutil

from plumbing import env as envnames
from plumbing import lifeline
from plumbing.cores import can_pin, pinning_unsupported
from plumbing.lifeline import Lifeline, set_parent_death_signal

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Every process the kit starts carries these in its environment, and so does everything those
# start in turn (a child inherits the environment): `python -m corelab clean` finds the kit's
# processes by them, never by name. KIT_STARTER says who started it, "<pid>@<start time>", so
# `corelab doctor` can tell a stray (its starter is gone) from a process a live run still owns.
KIT_TAG = envnames.KIT
KIT_STARTER = envnames.KIT_STARTER


def kit_tag() -> dict[str, str]:
    """The environment entries that mark a child as started by the kit, from this process."""
    me = psutil.Process()
    return {KIT_TAG: "1", KIT_STARTER: f"{me.pid}@{me.create_time():.2f}"}


def from_main_thread() -> bool:
    """Whether a child started now may have PR_SET_PDEATHSIG: it fires when the *thread* that started
    the child exits, so only the main thread's children can have it safely."""
    return threading.current_thread() is threading.main_thread()


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class ManagedProcess:
    """A subprocess in a new session (so a new process group), stopped with everything it started.

    Use it as a context manager: whatever happens inside, success, an error or Ctrl-C, the
    whole group gets SIGTERM, then SIGKILL if it has not gone within ``grace`` seconds.

    ``die_with_parent`` also covers the one case no ``finally`` can: this process killed by
    SIGKILL. The kernel then kills the child (Linux: PR_SET_PDEATHSIG). The kernel acts when the
    *thread* that started the child exits, so it is used only from the main thread; a child
    started from another thread (a Redis restarted by a ``during`` callback), and every child
    where the kernel has no such thing (macOS), gets a lifeline pipe whose watcher kills the
    child's group when this process goes (plumbing/lifeline.py).
    ``cores`` pins the child (and every process it forks) to those cores before it execs; where
    the OS cannot pin (macOS), asking for it raises ``PinningUnsupported`` before anything starts.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str | None = None,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        cwd: Path | None = PROJECT_ROOT,
        grace: float = 5.0,
        die_with_parent: bool = False,
        cores: Sequence[int] | None = None,
    ) -> None:
        self.argv = list(argv)
        self.name = name or Path(self.argv[0]).name
        self.log_path = log_path
        self.grace = grace
        self.die_with_parent = die_with_parent
        # PR_SET_PDEATHSIG where it is safe (Linux, the main thread); else a lifeline, below.
        self._kernel_kills = die_with_parent and lifeline.has_parent_death_signal() and from_main_thread()
        self.cores = list(cores) if cores else None
        if self.cores and not can_pin():
            # Refused here, in the parent: in preexec_fn it would be a traceback from the child.
            raise PinningUnsupported(pinning_unsupported("cores=..."))
        self._lifeline: Lifeline | None = None
        # The tag last: whatever environment the caller hands over, the child is the kit's.
        child_env = {**os.environ, **(env or {}), **kit_tag()}
        log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        try:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=child_env,
                start_new_session=True,
                preexec_fn=self._in_child if self._kernel_kills or self.cores else None,
            )
        finally:
            # The child has its own copy of the log's descriptor; ours can close at once.
            if log is not subprocess.DEVNULL:
                log.close()
        if die_with_parent and not self._kernel_kills:
            # No PR_SET_PDEATHSIG for this child: a watcher on a pipe only we hold kills its group when we go.
            try:
                self._lifeline = Lifeline(self.popen.pid, env=child_env)
            except BaseException:
                signal_group(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
                raise

    def _in_child(self) -> None:
        # Between fork and exec, in the child: both survive exec and are inherited by its forks.
        if self._kernel_kills:
            set_parent_death_signal()
        if self.cores:
            os.sched_setaffinity(0, self.cores)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or None while the process runs (negative: killed by that signal)."""
        return self._reaped(self.popen.poll())

    def alive(self) -> bool:
        return self.returncode is None

    def _reaped(self, code: int | None) -> int | None:
        # Once the leader is reaped its pgid may be reused: the lifeline's watcher must act now
        # (killing what is left of the group), never later on a stranger's group.
        if code is not None and self._lifeline is not None:
            self._lifeline.release()
            self._lifeline = None
        return code

    def log_text(self) -> str:
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 1) -> str:
        """The last non-empty lines of the output, joined with " | ", for a one-line error."""
        kept = [line.strip() for line in self.log_text().splitlines() if line.strip()]
        return " | ".join(kept[-lines:])

    def wait(self, timeout: float | None = None) -> int:
        code = self._reaped(self.popen.wait(timeout))
        assert code is not None
        return code

    def terminate(self) -> None:
        """SIGTERM the whole group (a cluster's primary then stops its workers gracefully)."""
        if self.alive():
            signal_group(self.pid, signal.SIGTERM)

    def wait_stopped(self, timeout: float) -> int:
        """Wait up to ``timeout`` seconds, then SIGKILL whatever is left of the group. Returns the exit code."""
        try:
            self.popen.wait(max(0.0, timeout))
        except subprocess.TimeoutExpired:
            pass
        # Even when the leader has exited, members of its group may linger: kill them too.
        signal_group(self.pid, signal.SIGKILL)
        return self.wait()

    def stop(self) -> int:
        """SIGTERM the whole group, wait ``grace`` seconds, then SIGKILL whatever is left. Returns the exit code."""
        self.terminate()
        return self.wait_stopped(self.grace)

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PinningUnsupported(ValueError):
    """Pinning to cores was asked for where the OS has no CPU affinity (macOS); the message is one line."""


def signal_group(pgid: int, sig: int) -> None:
    """Send ``sig`` to process group ``pgid``, if it still exists and is ours to signal."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def running(proc: psutil.Process) -> bool:
    """Whether ``proc`` still runs: a zombie has finished, it only waits for its parent to read its exit."""
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def cpu_seconds(procs: Sequence[psutil.Process]) -> float:
    """User + system CPU time the processes have used so far (one that has gone counts 0)."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def python_module(module: str, *args: str) -> list[str]:
    """The command that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]


def wait_until_serving(url: str, process: ManagedProcess, timeout: float = 15.0, ready_line: str | None = None) -> None:
    """Poll ``url`` until it answers and, if given, ``ready_line`` is in the server's log.

    Fails early, showing the server's log, if the server exits.
    """
    deadline = time.monotonic() + timeout
    while True:
        if not process.alive():
            raise RuntimeError(f"server exited with code {process.popen.returncode}:\n{process.log_text()}")
        if ready_line is None or ready_line in process.log_text():
            try:
                with urllib.request.urlopen(url, timeout=1.0):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:g} s:\n{process.log_text()}")
        time.sleep(0.05)
