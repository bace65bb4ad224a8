"""What `corelab top` watches: a server's process tree, found from its port or a pid, with roles.

The roles come from the tree alone, so any variant works without telling top what it is:
the root (the topmost ancestor that is still a kit server) is the *primary* when it has
workers, else the lone *server*; its Python children are *workers*; processes that
multiprocessing spawned (a worker's process pool) are *pool* processes; a redis-server is *redis*.
Node (servers/node) under its Python launcher: the *launcher*, the Node *primary* (cluster.js,
sticky.js, pm2-runtime) and its Node *workers*, or a lone Node *server* (single.js).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from plumbing.listeners import process_connections, tcp_listeners

LOOPBACK = "127.0.0.1"
# Addresses on which a listener also answers 127.0.0.1:P.
REACHABLE_FROM_LOOPBACK = {LOOPBACK, "0.0.0.0", "::", "::ffff:127.0.0.1"}

ROLE_ORDER = {"launcher": 0, "primary": 0, "server": 0, "worker": 1, "pool": 2, "helper": 3, "redis": 4, "child": 5}


class NotFound(LookupError):
    """Nothing to attach to: the one-line reason is the message."""


@dataclass(frozen=True)
class Member:
    """One process of the watched tree."""

    proc: psutil.Process
    role: str
    # The worker it belongs to (pool processes), or None.
    under: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


def listening_pids(port: int) -> list[int]:
    """Pids of the processes that hold a socket listening on 127.0.0.1:``port``."""
    seen = tcp_listeners(port)
    found = [listener for listener in seen.found if listener.ip in REACHABLE_FROM_LOOPBACK]
    if not found:
        start = f"python -m servers.cluster --port {port}"
        if not seen.complete:
            # macOS: only root sees every socket; this user's own processes were asked one by one.
            raise NotFound(
                f"none of this user's processes listens on {LOOPBACK}:{port} (this OS shows other users' "
                f"sockets only to root): start a variant first (e.g. {start}), or pass --pid PID"
            )
        raise NotFound(f"nothing is listening on {LOOPBACK}:{port}: start a variant first (e.g. {start})")
    pids = sorted({listener.pid for listener in found if listener.pid})
    if not pids:
        raise NotFound(f"{LOOPBACK}:{port} is held by a process this user cannot see (another user's?): pass --pid PID")
    return pids


def is_kit_server(proc: psutil.Process) -> bool:
    """True for `python -m servers.<variant>` and gunicorn serving `servers.app` (and their forks)."""
    try:
        argv = proc.cmdline()
    except psutil.Error:
        return False
    for i, arg in enumerate(argv):
        if arg == "-m" and i + 1 < len(argv) and argv[i + 1].startswith("servers."):
            return True
    return any(os.path.basename(a).startswith("gunicorn") for a in argv) and any(a.startswith("servers.") for a in argv)


def find_root(pid: int) -> psutil.Process:
    """The topmost ancestor of ``pid`` that is still a kit server (``pid`` itself when none is)."""
    try:
        proc = psutil.Process(pid)
    except psutil.Error:
        raise NotFound(f"no process with pid {pid}") from None
    while True:
        try:
            parent = proc.parent()
        except psutil.Error:
            return proc
        if parent is None or not is_kit_server(parent):
            return proc
        proc = parent


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


def is_node(argv: list[str]) -> bool:
    """A Node process: its program is node (PM2 retitles its apps "node /path/app.js", one string)."""
    return bool(argv) and bool(argv[0].split()) and os.path.basename(argv[0].split()[0]) in ("node", "nodejs")


def node_role(proc: psutil.Process) -> str:
    """servers/node's processes by their place: Node's cluster (cluster.js, sticky.js, pm2-runtime)
    is a Node primary with Node workers under it; a Node process with neither is a lone server."""
    try:
        parent = proc.parent()
        if parent is not None and is_node(_cmdline(parent)):
            return "worker"
        return "primary" if any(is_node(_cmdline(c)) for c in proc.children()) else "server"
    except psutil.Error:
        return "child"


def role_of(proc: psutil.Process, depth: int) -> str:
    argv = _cmdline(proc)
    joined = " ".join(argv)
    if argv and os.path.basename(argv[0]).startswith(("redis-server", "valkey-server")):
        return "redis"
    if is_node(argv):
        return node_role(proc)
    if "multiprocessing.resource_tracker" in joined or "multiprocessing.forkserver" in joined:
        return "helper"
    if "--multiprocessing-fork" in argv or "multiprocessing.spawn" in joined:
        return "pool"
    if depth == 1 and argv and "python" in os.path.basename(argv[0]):
        return "worker"
    return "pool" if depth > 1 and argv and "python" in os.path.basename(argv[0]) else "child"


def tree(root: psutil.Process) -> list[Member]:
    """The root and its descendants with their roles: root first, then each worker and what it started."""
    members: list[Member] = []
    depth = {root.pid: 0}
    # The root's child each process descends from: a pool process belongs to that worker.
    branch: dict[int, int] = {}
    for child in root.children(recursive=True):  # parents come before their children
        try:
            ppid = child.ppid()
        except psutil.Error:
            continue
        depth[child.pid] = depth.get(ppid, 0) + 1
        branch[child.pid] = child.pid if ppid == root.pid else branch.get(ppid, ppid)
        role = role_of(child, depth[child.pid])
        under = None if role == "worker" else (root.pid if ppid == root.pid else branch[child.pid])
        members.append(Member(child, role, under))
    # `python -m servers.node` starts a Node primary (or lone server) and relays its output: a launcher.
    if any(m.role in ("primary", "server") and is_node(_cmdline(m.proc)) for m in members):
        root_role = "launcher"
    else:
        root_role = "primary" if any(m.role == "worker" for m in members) else "server"
    workers = sorted(m.pid for m in members if m.role == "worker")
    rank = {pid: i for i, pid in enumerate(workers)}

    def order(m: Member) -> tuple[int, int, int, int]:
        # Each worker followed by its own pool; root-level helpers and redis after all workers.
        if m.role in ("primary", "server"):
            return (-1, 0, 0, m.pid)  # a Node primary under its launcher: before its workers
        group = rank.get(m.pid if m.role == "worker" else m.under or -1, len(workers))
        return (group, 0 if m.role == "worker" else 1, ROLE_ORDER.get(m.role, 9), m.pid)

    return [Member(root, root_role), *sorted(members, key=order)]


def runs_locust(argv: list[str]) -> bool:
    """True for a command line that runs Locust (`locust ...` or `python -m locust ...`)."""
    for i, arg in enumerate(argv[:3]):
        if os.path.basename(arg) == "locust":
            return True
        if arg == "-m" and i + 1 < len(argv) and argv[i + 1] == "locust":
            return True
    return False


class LocustFinder:
    """Locust processes aimed at one of ``ports`` (by their --host), and how many others run.

    A process's command line is read once: a scan every few seconds then costs one listing of
    /proc, not a read of every process's cmdline.
    """

    def __init__(self, ports: set[int]) -> None:
        self.ports = ports
        self._verdicts: dict[psutil.Process, str] = {}  # "aimed" | "other" | "no"

    def _verdict(self, proc: psutil.Process) -> str:
        try:
            argv = proc.cmdline()
        except psutil.Error:
            return "no"
        if not runs_locust(argv):
            return "no"
        aimed = any(arg.rstrip("/").endswith(f":{port}") for arg in argv for port in self.ports)
        return "aimed" if aimed else "other"

    def scan(self) -> tuple[list[psutil.Process], int]:
        verdicts = {}
        for proc in psutil.process_iter():
            verdicts[proc] = self._verdicts.get(proc) or self._verdict(proc)
        self._verdicts = verdicts
        aimed = [proc for proc, verdict in verdicts.items() if verdict == "aimed"]
        return aimed, sum(verdict == "other" for verdict in verdicts.values())


def listening_ports(root: psutil.Process) -> set[int]:
    """The TCP ports the tree rooted at ``root`` listens on."""
    ports = set()
    for proc in [root, *root.children(recursive=True)]:
        try:
            connections = process_connections(proc)
        except psutil.Error:
            continue
        ports |= {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}
    return ports
