"""A running fleet (``python -m servers.fleet``) and what its process tree says about it.

Hosts are told apart without asking them: each response names its worker (X-Worker-Pid) and the
process tree says which host's primary forked that worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from plumbing.procs import ManagedProcess, free_port, python_module, running
from servers.fleet.config import READY_LINE, FleetConfig
from servers.fleet.loopback import check_loopback

# The hosts' loopback addresses, in the order the fleet starts them (host 1, host 2).
HOST_ADDRESSES = ("127.0.0.2", "127.0.0.3")


@dataclass
class FleetHandle:
    """A running ``python -m servers.fleet`` and what its process tree says about it."""

    port: int
    process: ManagedProcess

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def children(self) -> list[psutil.Process]:
        try:
            return psutil.Process(self.process.pid).children()
        except psutil.NoSuchProcess:
            return []

    def primaries(self) -> dict[str, psutil.Process]:
        """Each host's address -> its cluster primary."""
        found = {}
        for child in self.children():
            cmdline = child.cmdline()
            if "servers.cluster" in cmdline:
                found[cmdline[cmdline.index("--host") + 1]] = child
        return found

    def host_of_worker(self) -> dict[int, str]:
        return {w.pid: address for address, primary in self.primaries().items() for w in primary.children()}

    def caddy(self) -> psutil.Process:
        (caddy,) = [p for p in self.children() if p.name() == "caddy"]
        return caddy

    def redis(self) -> psutil.Process:
        (redis,) = [p for p in self.children() if "redis" in p.name()]
        return redis

    def has_new_redis(self, old_pid: int) -> bool:
        """Has the fleet started a Redis other than ``old_pid``?"""
        return any("redis" in p.name() and p.pid != old_pid for p in self.children())

    def family(self) -> list[psutil.Process]:
        """The fleet and every process below it, now."""
        try:
            root = psutil.Process(self.process.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []


@contextmanager
def running_fleet(*args: str, log_path: Path) -> Iterator[FleetHandle]:
    """The fleet's own output goes to ``log_path``; its hosts', Redis's and Caddy's logs beside it.

    Before anything starts, the hosts' loopback addresses are checked: on a Mac without the aliases
    this raises servers.fleet.loopback.LoopbackMissing, whose message is the command that adds them.
    """
    check_loopback(FleetConfig(hosts=_hosts_in(args)).host_addresses())
    port = free_port()
    keep = log_path.with_suffix("")
    argv = python_module("servers.fleet", "--port", str(port), "--log-dir", str(keep), *args)
    with ManagedProcess(argv, log_path=log_path, grace=15.0, die_with_parent=True) as process:
        deadline = time.monotonic() + 60
        while READY_LINE not in process.log_text():
            if not process.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the fleet did not start:\n{process.log_text()}")
            time.sleep(0.05)
        yield FleetHandle(port, process)


def _hosts_in(args: Sequence[str]) -> int:
    """The --hosts a fleet is started with (servers.fleet's default without one)."""
    if "--hosts" in args[:-1]:
        return int(args[list(args).index("--hosts") + 1])
    return FleetConfig.hosts


def still_running(procs: Sequence[psutil.Process]) -> list[str]:
    """``name(pid)`` of each process that is still running (a zombie has finished)."""
    left = []
    for proc in procs:
        try:
            if running(proc):
                left.append(f"{proc.name()}({proc.pid})")
        except psutil.NoSuchProcess:
            pass  # it ended between the two reads
    return left
