"""Who listens on a TCP port, on any OS a class brings.

``psutil.net_connections()`` sees every socket on Linux, but on macOS it needs root and raises
AccessDenied for a normal user. There the kit falls back to asking this user's own processes one
by one (``Process.net_connections()`` works for one's own processes), which is what a student
needs: the servers they started. Other users' sockets stay invisible without root (lsof shows
no more), so callers say so and offer ``--pid``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class Listener:
    pid: int | None  # None: a socket whose process this user may not see
    ip: str
    port: int


@dataclass(frozen=True)
class Listeners:
    found: list[Listener]
    # False: the system-wide view was refused, so only this user's own processes were asked.
    complete: bool


def tcp_listeners(port: int | None = None) -> Listeners:
    """The TCP sockets in LISTEN state (on ``port`` if given), system-wide where this user may look."""
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return Listeners(_own_listeners(port), complete=False)
    found = [
        Listener(c.pid, c.laddr.ip, c.laddr.port)
        for c in connections
        if c.status == psutil.CONN_LISTEN and c.laddr and (port is None or c.laddr.port == port)
    ]
    return Listeners(found, complete=True)


def process_connections(proc: psutil.Process) -> list:
    """``proc``'s TCP connections: ``net_connections`` from psutil 6, ``connections`` before."""
    method = getattr(proc, "net_connections", None) or proc.connections
    return method(kind="tcp")


def _own_listeners(port: int | None) -> list[Listener]:
    me = os.getuid()
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.uids().real != me:
                continue
            connections = process_connections(proc)
        except psutil.Error:
            continue  # gone meanwhile, or not ours to read after all
        found += [
            Listener(proc.pid, c.laddr.ip, c.laddr.port)
            for c in connections
            if c.status == psutil.CONN_LISTEN and c.laddr and (port is None or c.laddr.port == port)
        ]
    return found
