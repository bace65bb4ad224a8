"""Per-core and per-process CPU, sampled over time into tidy tables.

A background thread reads ``psutil.cpu_percent(percpu=True)`` for the cores this process may use
(plumbing.cores: under ``taskset -c 0-3`` a 64-core machine shows 4 rows, not 64) and, for each watched process
tree (the server, the load generator), every member's CPU and current core, 10 times a second
by default. Trees, and each member's RSS, are re-read every two seconds: workers that come and go
are followed, and memory, which moves slowly, is not read ten times a second.
The sampler times itself, so its own cost is part of every result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import psutil

from plumbing.cores import last_core, usable_cores


@dataclass
class Samples:
    """What one sampling session saw, as long tables."""

    cores: pd.DataFrame  # t, core, util_pct
    procs: pd.DataFrame  # t, group, pid, role, cpu_pct, rss_bytes, core
    seconds: float
    overhead_pct: float  # the sampler's own CPU, in % of one core


class Sampler:
    """Sample cores and the process trees rooted at ``groups`` (name -> root pid)."""

    def __init__(
        self,
        groups: dict[str, int] | None = None,
        interval: float = 0.1,
        tree_every: float = 2.0,
        cores: Sequence[int] | None = None,
    ) -> None:
        self.groups = dict(groups or {})
        self.cores = tuple(cores) if cores is not None else tuple(usable_cores())
        self.interval = interval
        self.tree_every = tree_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="corelab-sampler", daemon=True)
        self._core_rows: list[tuple[float, int, float]] = []
        self._proc_rows: list[tuple[float, str, int, str, float, int, int]] = []
        self._members: dict[str, dict[int, psutil.Process]] = {name: {} for name in self.groups}
        self._last_cpu: dict[int, tuple[float, float]] = {}
        self._rss: dict[int, int] = {}
        self._cpu_time = 0.0
        self._wall = 0.0

    def watch(self, name: str, root_pid: int) -> None:
        """Add a process tree; call before ``start``."""
        self.groups[name] = root_pid
        self._members[name] = {}

    def start(self) -> Sampler:
        psutil.cpu_percent(percpu=True)  # the first call only sets the baseline
        self._thread.start()
        return self

    def stop(self) -> Samples:
        self._stop.set()
        self._thread.join()
        cores = pd.DataFrame(self._core_rows, columns=["t", "core", "util_pct"])
        procs = pd.DataFrame(self._proc_rows, columns=["t", "group", "pid", "role", "cpu_pct", "rss_bytes", "core"])
        overhead = 100.0 * self._cpu_time / self._wall if self._wall else 0.0
        return Samples(cores=cores, procs=procs, seconds=self._wall, overhead_pct=overhead)

    def __enter__(self) -> Sampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if not self._stop.is_set():
            self.stop()

    # -- the sampling thread -----------------------------------------------------------------

    def _run(self) -> None:
        cpu0 = time.thread_time()
        t0 = time.monotonic()
        next_tree = t0
        next_tick = t0 + self.interval
        while not self._stop.is_set():
            # A plain sleep: on small VMs waking from Event.wait costs about twice as much CPU.
            time.sleep(max(0.0, next_tick - time.monotonic()))
            now = time.monotonic()
            if now >= next_tree:
                self._refresh_trees()
                next_tree = now + self.tree_every
            self._sample(now - t0)
            next_tick += self.interval
            if next_tick < now:  # fell behind (a suspended machine): do not burst to catch up
                next_tick = now + self.interval
        self._cpu_time = time.thread_time() - cpu0
        self._wall = time.monotonic() - t0

    def _refresh_trees(self) -> None:
        for name, root_pid in self.groups.items():
            members = self._members[name]
            try:
                root = members.get(root_pid) or psutil.Process(root_pid)
                found = [root, *root.children(recursive=True)]
            except psutil.Error:
                found = []
            seen = {p.pid for p in found}
            for proc in found:
                members.setdefault(proc.pid, proc)
                try:
                    self._rss[proc.pid] = proc.memory_info().rss
                except psutil.Error:
                    pass
            for pid in list(members):
                if pid not in seen:
                    del members[pid]

    def _sample(self, t: float) -> None:
        utils = psutil.cpu_percent(percpu=True)
        for core in self.cores:
            if core < len(utils):  # a CPU taken offline meanwhile has no reading
                self._core_rows.append((t, core, utils[core]))
        for name, members in self._members.items():
            root_pid = self.groups[name]
            for pid, proc in list(members.items()):
                try:
                    with proc.oneshot():  # one read of /proc/<pid>/stat for both
                        times = proc.cpu_times()
                        # -1 where the OS does not say (macOS): the shares then report moves as unknown.
                        core = last_core(proc)
                        core = -1 if core is None else core
                except psutil.Error:
                    members.pop(pid, None)
                    continue
                used = times.user + times.system
                previous = self._last_cpu.get(pid)
                self._last_cpu[pid] = (t, used)
                if previous is None:
                    continue  # a first reading has nothing to compare with
                dt = t - previous[0]
                cpu_pct = 100.0 * (used - previous[1]) / dt if dt > 0 else 0.0
                role = "root" if pid == root_pid else "child"
                self._proc_rows.append((t, name, pid, role, cpu_pct, self._rss.get(pid, 0), core))
