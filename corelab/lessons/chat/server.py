"""A chat cluster started for the stop and restart measurements, and what its log said when.

    server = start_chat_server("pubsub", 2, log_path)    # serving once the primary says "cluster ready"
    server.log.first(r"worker (\\d+) exited", since)     # (when, match), on time.monotonic()'s clock
    replacements(server.log, since)                      # each worker a rolling restart replaced, timed

The cluster's log lines carry no time; ``StampedLog`` stamps each line as it appears, which is
precise enough (20 ms) to time a worker's replacement and costs the server nothing.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from plumbing.procs import ManagedProcess, free_port, python_module, wait_until_serving


class StampedLog:
    """Follows a server's log file from a thread, stamping each line with ``time.monotonic()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lines: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def _follow(self) -> None:
        offset, partial = 0, ""
        while not self._stop.wait(0.02):
            try:
                with open(self.path, errors="replace") as f:
                    f.seek(offset)
                    chunk = f.read()
                    offset = f.tell()
            except OSError:
                continue
            now = time.monotonic()
            *complete, partial = (partial + chunk).split("\n")
            self.lines.extend((now, line) for line in complete)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=1)

    def first(self, pattern: str, after: float = 0.0) -> tuple[float, re.Match[str]] | None:
        """The first line at or after ``after`` that matches ``pattern``: (when, match)."""
        for when, line in list(self.lines):
            if when >= after and (match := re.search(pattern, line)):
                return when, match
        return None

    def text(self) -> str:
        return "\n".join(line for _when, line in self.lines)


@dataclass
class ChatServer:
    variant: str
    url: str
    process: ManagedProcess
    log: StampedLog

    @property
    def primary_pid(self) -> int:
        return self.process.pid

    def close(self) -> None:
        self.process.stop()
        self.log.close()


def start_chat_server(variant: str, workers: int, log_path: Path, *extra: str) -> ChatServer:
    """``python -m servers.<variant> --workers N`` on a free port, serving once the cluster is ready."""
    port = free_port()
    process = ManagedProcess(
        python_module(f"servers.{variant}", "--workers", str(workers), "--port", str(port), *extra), log_path=log_path
    )
    log = StampedLog(log_path)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/health", process, timeout=30, ready_line="cluster ready")
    except BaseException:
        process.stop()
        log.close()
        raise
    return ChatServer(variant, url, process, log)


@dataclass(frozen=True)
class Replacement:
    """One worker a rolling restart replaced, by the primary's log."""

    old_pid: int
    new_pid: int | None
    boot_s: float | None  # "replacing" to the successor serving
    drain_s: float | None  # the successor serving to the old worker's exit
    seconds: float | None  # "replacing" to the old worker's exit


def replacements(log: StampedLog, since: float) -> list[Replacement]:
    """Each worker a rolling restart replaced after ``since``, with its successor and the times."""
    lines = list(log.lines)

    def find(pattern: str, start: int) -> tuple[float, re.Match[str]] | None:
        for when, line in lines[start:]:
            if match := re.search(pattern, line):
                return when, match
        return None

    out = []
    for i, (began, line) in enumerate(lines):
        match = re.search(r"replacing worker (\d+) \(slot (\d+)\)", line)
        if began < since or not match:
            continue
        old_pid, slot = int(match.group(1)), match.group(2)
        serving = find(rf"worker (\d+) \(slot {slot}\) is serving", i + 1)
        gone = find(rf"worker {old_pid} (exited|was killed)", i + 1)
        out.append(
            Replacement(
                old_pid=old_pid,
                new_pid=int(serving[1].group(1)) if serving else None,
                boot_s=serving[0] - began if serving else None,
                drain_s=gone[0] - serving[0] if gone and serving else None,
                seconds=gone[0] - began if gone else None,
            )
        )
    return out


async def old_workers_gone(log: StampedLog, old: set[int], since: float, timeout: float) -> float:
    """When the last of the ``old`` workers exited after ``since``, by the primary's log."""
    deadline = time.monotonic() + timeout
    while True:
        exits = [log.first(rf"worker {pid} (exited|was killed)", since) for pid in old]
        if all(exits):
            return max(found[0] for found in exits if found)
        if time.monotonic() > deadline:
            raise TimeoutError(f"old workers {sorted(old)} still running after {timeout:g} s")
        await asyncio.sleep(0.05)
