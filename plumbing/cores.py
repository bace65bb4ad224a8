"""The cores this process may use: the one place the kit asks, and the one place it counts them.

Three things can give a process fewer cores than the machine has, and each makes a worker count
or a speed-up judged against ``os.cpu_count()`` wrong:

- the affinity mask (``taskset -c 0-3``, a container's cpuset): which cores it may run on;
- a cgroup CPU quota (``docker --cpus=4``, Kubernetes limits): how many cores' worth of time it
  gets, on whichever cores it runs;
- SMT (hyper-threading): two logical CPUs of one physical core share its execution units, so a
  second busy thread on a core adds far less than a second core would.

``core_count()`` reads all three (Linux: sched_getaffinity, /sys/fs/cgroup, the topology in
/sys/devices/system/cpu; elsewhere psutil's counts) into one ``CoreCount``.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_TOPOLOGY = Path("/sys/devices/system/cpu")


@dataclass(frozen=True)
class CoreCount:
    """How many cores this process can use, and why."""

    ids: tuple[int, ...]  # the logical CPUs it may run on (the affinity mask): what per-core views show
    logical: int  # logical CPUs on the machine
    physical: int  # physical cores on the machine
    physical_usable: int  # physical cores among ``ids`` (fewer than len(ids) with SMT)
    quota: float | None = None  # a cgroup CPU quota in cores' worth, None when there is none
    notes: tuple[str, ...] = field(default=())

    @property
    def usable(self) -> int:
        """Cores' worth of CPU this process can have: the affinity mask, capped by the quota (at least 1)."""
        if self.quota is None:
            return len(self.ids)
        return max(1, min(len(self.ids), math.floor(self.quota)))

    @property
    def smt(self) -> bool:
        """Whether some usable logical CPUs share a physical core."""
        return self.physical_usable < len(self.ids)

    @property
    def compute_cores(self) -> float:
        """Cores' worth of pure-Python work the usable CPUs can do at once: SMT siblings count as one core
        (a second thread on a core adds 0-30%, depending on the work), and the quota caps the total."""
        cores = float(min(self.physical_usable, len(self.ids)))
        return min(cores, self.quota) if self.quota is not None else cores

    def describe(self) -> str:
        """One line: e.g. "4 usable cores (affinity 0-3 of 16 logical, 8 physical)"."""
        parts = [f"{len(self.ids)} of {self.logical} logical CPUs by affinity", f"{self.physical} physical cores"]
        if self.smt:
            parts.append(f"SMT: the usable CPUs are {self.physical_usable} physical cores")
        if self.quota is not None:
            parts.append(f"cgroup quota {self.quota:g} cores")
        return f"{self.usable} usable core{'' if self.usable == 1 else 's'} ({', '.join(parts)})"


def usable_cores() -> list[int]:
    """The ids of the logical CPUs this process may run on: its affinity mask, not just the machine's count."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # macOS has no affinity masks: every core


def last_core(proc: psutil.Process) -> int | None:
    """The logical CPU ``proc`` last ran on, or None where psutil cannot say (macOS: no ``cpu_num``)."""
    try:
        return proc.cpu_num()
    except (AttributeError, NotImplementedError):
        return None


def can_pin() -> bool:
    """Whether this OS can pin a process to cores: Linux has sched_setaffinity, macOS has nothing like it."""
    return hasattr(os, "sched_setaffinity")


def pinning_unsupported(option: str) -> str:
    """The one line that refuses ``option`` (e.g. ``--pin``) where the OS cannot pin."""
    return (
        f"{option} pins processes to cores (os.sched_setaffinity), which this OS ({sys.platform}) does not have: "
        f"run without {option} (the scheduler then places them)"
    )


def readings_of(values: list[float], ids: list[int] | tuple[int, ...]) -> list[float]:
    """The readings of cores ``ids`` from a per-CPU list (``psutil.cpu_percent(percpu=True)``), in the
    order of ``ids``; 0 for a CPU taken offline since ``ids`` was read."""
    return [values[c] if c < len(values) else 0.0 for c in ids]


def usable_core_count() -> int:
    """How many cores' worth of CPU this process may use (the affinity mask, capped by a cgroup quota)."""
    return core_count().usable


def core_count() -> CoreCount:
    """This process's cores, read from the OS now."""
    import psutil  # here, not at the top: plumbing's light users (a spawned child) never pay for it

    ids = tuple(usable_cores())
    logical = psutil.cpu_count(logical=True) or len(ids)
    physical = psutil.cpu_count(logical=False) or logical
    siblings = physical_cores_of(ids, CPU_TOPOLOGY)
    if siblings is None:  # no topology to read (macOS): assume the machine's ratio holds for the mask
        siblings = max(1, round(len(ids) * physical / logical))
    return CoreCount(ids=ids, logical=logical, physical=physical, physical_usable=siblings, quota=cgroup_quota())


def physical_cores_of(ids: tuple[int, ...], topology: Path) -> int | None:
    """How many physical cores the logical CPUs ``ids`` belong to, from Linux's topology files; None
    where they cannot be read. Two CPUs are one core when they list the same siblings."""
    cores = set()
    for cpu in ids:
        for name in ("core_cpus_list", "thread_siblings_list"):  # the first is the newer kernels' name
            path = topology / f"cpu{cpu}" / "topology" / name
            try:
                cores.add(path.read_text().strip())
                break
            except OSError:
                continue
        else:
            return None
    return len(cores) or None


def cgroup_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = Path("/proc/self/cgroup")) -> float | None:
    """The CPU quota of this process's cgroup, in cores' worth (cgroup v2's cpu.max or v1's
    cpu.cfs_quota_us / cpu.cfs_period_us), walking up to the root; None when no level sets one."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hierarchy == "0" and controllers == "":  # cgroup v2: one unified tree
            base, read = root, _v2_quota
        elif "cpu" in controllers.split(","):  # cgroup v1: the cpu controller's own tree
            base, read = root / "cpu", _v1_quota
            if not base.exists():
                base = root / "cpu,cpuacct"
        else:
            continue
        quotas = [q for q in (read(base / level) for level in _levels(path)) if q is not None]
        if quotas:
            return min(quotas)
    return None


def _levels(path: str) -> list[str]:
    """ "/a/b" -> ["a/b", "a", ""]: a quota set on any ancestor applies too."""
    parts = [p for p in path.strip("/").split("/") if p]
    return ["/".join(parts[:n]) for n in range(len(parts), -1, -1)]


def _v2_quota(folder: Path) -> float | None:
    try:
        quota, period = (folder / "cpu.max").read_text().split()
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


def _v1_quota(folder: Path) -> float | None:
    try:
        quota = int((folder / "cpu.cfs_quota_us").read_text())
        period = int((folder / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return None if quota <= 0 or period <= 0 else quota / period
