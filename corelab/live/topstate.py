"""What `corelab top` measures each frame: the cores, the server's tree, its admin port and Locust.

One ``Watcher`` samples; ``topview`` draws what it returns. Reading costs CPU on the machine
being measured, so the slow-moving or costly parts are read less often than frames are drawn:
the tree every second (workers that die, respawn and roll are followed within a second),
Locust's processes every two seconds (it means scanning every process), the admin port at most
twice a second (workers report their counts in once-a-second heartbeats anyway).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psutil

from corelab.live.toptree import LocustFinder, Member, listening_ports, tree
from plumbing.cores import last_core, readings_of, usable_cores
from plumbing.procs import running

HISTORY = 40  # samples per core in the history strip: 10 s at 4 Hz


class ServerGone(Exception):
    """The watched server has exited: the message says which one."""


@dataclass
class ProcRow:
    role: str
    pid: int
    under: int | None
    cpu_pct: float | None  # % of one core since the last frame; None on a process's first frame
    core: int | None
    rss_bytes: int | None
    requests: int | None = None
    rps: float | None = None
    state: str | None = None


@dataclass
class Frame:
    title: str
    cores: list[float]
    history: list[list[float | None]]  # per core, oldest first; None: not sampled yet
    rows: list[ProcRow]
    total_rps: float | None
    admin: dict[str, Any] | None
    admin_error: str | None
    locust: tuple[int, float | None] | None  # (processes, % of one core), None: no Locust aimed at the server
    locust_elsewhere: int = 0  # Locust processes aimed at other servers
    wall: float = field(default_factory=time.time)
    core_ids: list[int] = field(default_factory=list)  # the usable cores' ids, as ``cores`` lists them

    def __post_init__(self) -> None:
        if not self.core_ids:
            self.core_ids = list(range(len(self.cores)))


def describe(proc: psutil.Process) -> str:
    """``servers.cluster --workers 2 ...`` for ``python -m servers.cluster --workers 2 ...``."""
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return f"pid {proc.pid}"
    if "-m" in argv:
        argv = argv[argv.index("-m") + 1 :]
    return " ".join(argv)


class CpuMeter:
    """Per-process CPU between two readings, with the Process objects kept across frames."""

    def __init__(self) -> None:
        self._last: dict[int, tuple[psutil.Process, float, float]] = {}

    def read(self, proc: psutil.Process, now: float) -> tuple[float | None, int | None, int | None]:
        """(cpu %, core, rss) of ``proc`` now; cpu is None on its first reading."""
        with proc.oneshot():  # one read of /proc/<pid>/stat for all three
            times = proc.cpu_times()
            core = last_core(proc)  # None on macOS: psutil has no cpu_num there
            rss = proc.memory_info().rss
        used = times.user + times.system
        previous = self._last.get(proc.pid)
        self._last[proc.pid] = (proc, now, used)
        if previous is None or previous[0] != proc:  # new, or a new process that reused the pid
            return None, core, rss
        dt = now - previous[1]
        return (100.0 * (used - previous[2]) / dt if dt > 0 else 0.0), core, rss

    def forget_except(self, pids: set[int]) -> None:
        for pid in [p for p in self._last if p not in pids]:
            del self._last[pid]


class BeatRates:
    """Requests per second per worker, from the requests_served its heartbeats report.

    A rate is taken between two distinct beats (each carries the worker's own clock), so it does
    not jump between 0 and a burst when frames come faster than beats.
    """

    def __init__(self) -> None:
        self._beats: dict[int, tuple[float, int]] = {}
        self._rates: dict[int, float] = {}

    def update(self, workers: list[dict[str, Any]]) -> None:
        alive = set()
        for worker in workers:
            pid, beat, served = worker["pid"], worker.get("last_heartbeat"), worker.get("requests_served") or 0
            alive.add(pid)
            if beat is None:
                continue
            previous = self._beats.get(pid)
            if previous is not None and beat > previous[0]:
                self._rates[pid] = max(0.0, (served - previous[1]) / (beat - previous[0]))
            if previous is None or beat > previous[0]:
                self._beats[pid] = (beat, served)
        for gone in [pid for pid in self._beats if pid not in alive]:
            self._beats.pop(gone, None)
            self._rates.pop(gone, None)

    def rate(self, pid: int) -> float | None:
        return self._rates.get(pid)

    def total(self) -> float | None:
        """The sum over workers; None until some worker has beaten twice."""
        return sum(self._rates.values()) if self._rates else None


def fetch_health(admin_port: int, timeout: float = 0.5) -> dict[str, Any]:
    url = f"http://127.0.0.1:{admin_port}/cluster-health"
    with urllib.request.urlopen(url, timeout=timeout) as answer:
        return json.loads(answer.read())


class Watcher:
    def __init__(
        self,
        root: psutil.Process,
        *,
        port: int | None,
        admin_port: int | None,
        tree_every: float = 1.0,
        locust_every: float = 2.0,
        admin_every: float = 0.5,
    ) -> None:
        self.root = root
        self.port = port
        self.admin_port = admin_port
        self.title = describe(root)
        self.tree_every, self.locust_every, self.admin_every = tree_every, locust_every, admin_every
        self._members: list[Member] = []
        self._locusts: list[psutil.Process] = []
        self._locusts_elsewhere = 0
        # Locust is recognised by the server's port in its --host: the given one, or (with --pid)
        # every port the tree listens on.
        self._locust_finder = LocustFinder({port} if port is not None else listening_ports(root))
        self._next_tree = self._next_locust = self._next_admin = 0.0
        self._cpu = CpuMeter()
        self._rates = BeatRates()
        self._health: dict[str, Any] | None = None
        self._admin_error: str | None = None
        psutil.cpu_percent(percpu=True)  # the baseline for the first frame
        # The cores this process may use (plumbing.cores): under taskset -c 0-3, four of them.
        self.core_ids = usable_cores()
        self._history: list[deque[float | None]] = [deque([None] * HISTORY, maxlen=HISTORY) for _ in self.core_ids]

    def prime(self) -> None:
        """A first reading of everything, so the first frame already has CPU figures to compare with."""
        self.sample()
        self._next_admin = 0.0
        for strip in self._history:  # a reading over a few milliseconds: not a sample worth showing
            strip.pop()
            strip.appendleft(None)

    def _check_alive(self) -> None:
        if not running(self.root):
            raise ServerGone(f"the server has gone (pid {self.root.pid}: {self.title})")

    def sample(self) -> Frame:
        """One frame's readings. Raises ServerGone once the root process has exited."""
        self._check_alive()
        now = time.monotonic()
        if now >= self._next_tree:
            try:
                self._members = tree(self.root)
            except psutil.Error:
                self._check_alive()
                raise
            self._next_tree = now + self.tree_every
        if now >= self._next_locust:
            self._locusts, self._locusts_elsewhere = self._locust_finder.scan()
            self._next_locust = now + self.locust_every
        if self.admin_port is not None and now >= self._next_admin:
            self._read_admin()
            self._next_admin = now + self.admin_every
        cores = readings_of(psutil.cpu_percent(percpu=True), self.core_ids)
        for strip, value in zip(self._history, cores, strict=False):
            strip.append(value)
        rows = self._rows(now)
        locust = self._locust_cpu(now)
        self._cpu.forget_except({r.pid for r in rows} | {p.pid for p in self._locusts})
        return Frame(
            title=self.title,
            cores=cores,
            history=[list(strip) for strip in self._history],
            rows=rows,
            total_rps=self._rates.total() if self._health is not None else None,
            locust_elsewhere=self._locusts_elsewhere,
            admin=self._health,
            admin_error=self._admin_error,
            locust=locust,
            core_ids=list(self.core_ids),
        )

    def _read_admin(self) -> None:
        assert self.admin_port is not None
        try:
            self._health = fetch_health(self.admin_port)
            self._admin_error = None
            self._rates.update(self._health.get("workers", []))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            self._health = None
            reason = getattr(exc, "reason", exc)
            self._admin_error = f"admin port {self.admin_port} does not answer ({reason})"

    def _rows(self, now: float) -> list[ProcRow]:
        by_pid = {w["pid"]: w for w in (self._health or {}).get("workers", [])}
        rows = []
        for member in self._members:
            try:
                cpu, core, rss = self._cpu.read(member.proc, now)
            except psutil.Error:
                continue  # died since the tree was read: gone from this frame on
            row = ProcRow(member.role, member.pid, member.under, cpu, core, rss)
            worker = by_pid.get(member.pid)
            if worker is not None:
                row.requests = worker.get("requests_served")
                row.rps = self._rates.rate(member.pid)
                row.state = worker.get("state")
            rows.append(row)
        return rows

    def _locust_cpu(self, now: float) -> tuple[int, float | None] | None:
        if not self._locusts:
            return None
        total: float | None = 0.0
        alive = 0
        for proc in self._locusts:
            try:
                cpu, _core, _rss = self._cpu.read(proc, now)
            except psutil.Error:
                continue
            alive += 1
            total = None if cpu is None or total is None else total + cpu
        return (alive, total) if alive else None
