"""Child processes the kit owns: each in its own process group, always stopped, never orphaned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import psutil

from servers.lifeline import set_parent_death_signal

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Every process the kit starts carries these in its environment, and so does everything those
# start in turn (a child inherits the environment): `python -m corelab clean` finds the kit's
# processes by them, never by name. KIT_STARTER says who started it, "<pid>@<start time>", so
# `corelab doctor` can tell a stray (its starter is gone) from a process a live run still owns.
KIT_TAG = "CORELAB_KIT"
KIT_STARTER = "CORELAB_KIT_STARTER"


def kit_tag() -> dict[str, str]:
    """The environment entries that mark a child as started by the kit, from this process."""
    me = psutil.Process()
    return {KIT_TAG: "1", KIT_STARTER: f"{me.pid}@{me.create_time():.2f}"}


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
    SIGKILL. The kernel then kills the child (Linux). Only for a child started from a
    long-lived thread: the kernel acts when the *thread* that started the child exits.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        log_path: Path | None = None,
        env: dict[str, str] | None = None,
        cwd: Path = PROJECT_ROOT,
        grace: float = 5.0,
        die_with_parent: bool = False,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        self.grace = grace
        self._log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            # The tag last: whatever environment the caller hands over, the child is the kit's.
            env={**os.environ, **(env or {}), **kit_tag()},
            start_new_session=True,
            preexec_fn=set_parent_death_signal if die_with_parent else None,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def wait(self, timeout: float | None = None) -> int:
        return self.popen.wait(timeout)

    def stop(self) -> int:
        """SIGTERM the whole group, wait, then SIGKILL whatever is left. Returns the exit code."""
        if self.alive():
            _signal_group(self.pid, signal.SIGTERM)
            try:
                self.popen.wait(self.grace)
            except subprocess.TimeoutExpired:
                pass
        # Even when the leader has exited, members of its group may linger: kill them too.
        _signal_group(self.pid, signal.SIGKILL)
        code = self.popen.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()
        return code

    def __enter__(self) -> ManagedProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


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
