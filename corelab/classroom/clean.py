"""python -m corelab clean: stop every process the kit started that is still running.

The kit's processes are found by the tag ManagedProcess puts in their environment (CORELAB_KIT,
inherited by whatever they start). psutil reads the tag from /proc/PID/environ, the environment a
process was *exec'd* with, so a tag set later with os.environ does not show there.

A class also starts the kit's programs by hand (``python -m servers.cluster``, ``locust -f
loadtests/...``); those carry no tag, so they are recognised by their command line, parsed as the
program would (corelab.classroom.hand_started), never by a loose match on a name; with them go their
descendants (a cluster's workers and pool processes).

Each process's group gets SIGTERM (the kit starts everything in a group of its own), then, after
a grace period, SIGKILL. Never this process, its ancestors, their process groups, or another
user's processes.
"""

from __future__ import annotations

import argparse
import os
import signal
import time
from dataclasses import dataclass, replace

import psutil

from corelab.classroom.hand_started import kit_program
from plumbing.procs import KIT_STARTER, KIT_TAG, running

DEFAULT_GRACE = 5.0


@dataclass(frozen=True)
class KitProcess:
    proc: psutil.Process
    pgid: int
    command: str
    starter: str | None  # "<pid>@<start time>" of the process that started it
    stray: bool = False  # its starter has gone: left over from an earlier run
    by_hand: str | None = None  # no tag: what its command line shows it is ("python -m servers.cluster")

    @property
    def pid(self) -> int:
        return self.proc.pid


def parse_match(items: list[str] | None) -> dict[str, str]:
    match = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--only takes NAME=VALUE, not {item!r}")
        match[name] = value
    return match


def protected_pids() -> set[int]:
    """This process and its ancestors: clean never stops what it runs inside."""
    pids = {os.getpid()}
    proc: psutil.Process | None = psutil.Process()
    while proc is not None:
        pids.add(proc.pid)
        try:
            proc = proc.parent()
        except psutil.Error:
            break
    return pids


def short_command(argv: list[str], limit: int = 100) -> str:
    if argv:
        argv = [os.path.basename(argv[0]), *argv[1:]]
    text = " ".join(argv)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _starter_alive(starter: str | None) -> bool:
    pid_text, _sep, started = (starter or "").partition("@")
    try:
        return abs(psutil.Process(int(pid_text)).create_time() - float(started)) < 0.05
    except (ValueError, psutil.Error):
        return False


def kit_processes(match: dict[str, str] | None = None) -> list[KitProcess]:
    """Live processes of this user that are the kit's (and have ``match`` in their environment, if given).

    The kit's: tagged, or one of its programs started by hand, or a descendant of one of those.
    """
    protected = protected_pids()
    uid = os.getuid()
    found: list[KitProcess] = []
    untagged: dict[int, KitProcess] = {}  # candidates for "a descendant of a program started by hand"
    for proc in psutil.process_iter(["uids", "status", "cmdline"]):
        if proc.pid in protected or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        uids = proc.info["uids"]
        if uids is None or uids.real != uid:
            continue
        try:
            env = proc.environ()
            pgid = os.getpgid(proc.pid)
        except (psutil.Error, OSError):
            continue
        if any(env.get(name) != value for name, value in (match or {}).items()):
            continue
        command = short_command(proc.info["cmdline"] or [])
        if KIT_TAG in env:
            found.append(KitProcess(proc, pgid, command, env.get(KIT_STARTER)))
            continue
        program = kit_program(proc)
        if program is not None:
            found.append(KitProcess(proc, pgid, command, None, by_hand=program))
        else:
            untagged[proc.pid] = KitProcess(proc, pgid, command, None)
    for kp in [kp for kp in found if kp.by_hand]:
        try:
            descendants = kp.proc.children(recursive=True)
        except psutil.Error:
            continue
        for child in descendants:
            if (extra := untagged.pop(child.pid, None)) is not None:
                found.append(replace(extra, by_hand=f"started by {kp.by_hand}"))
    return _mark_strays(found)


def _mark_strays(found: list[KitProcess]) -> list[KitProcess]:
    """A process is a stray when its starter has gone, or is itself a kit process that is a stray."""
    by_starter_pid = {f"{kp.pid}@{_created(kp.proc)}": kp for kp in found}
    memo: dict[int, bool] = {}

    def stray(kp: KitProcess, seen: frozenset[int] = frozenset()) -> bool:
        if kp.pid not in memo:
            starter = by_starter_pid.get(kp.starter or "")
            if starter is not None and starter.pid not in seen:
                memo[kp.pid] = stray(starter, seen | {kp.pid})
            else:
                memo[kp.pid] = not _starter_alive(kp.starter)
        return memo[kp.pid]

    # A program started by hand has no starter to ask: no run of the kit owns it, so it is a stray.
    return [replace(kp, stray=stray(kp)) for kp in found]


def _created(proc: psutil.Process) -> str:
    try:
        return f"{proc.create_time():.2f}"
    except psutil.Error:
        return "?"


@dataclass(frozen=True)
class Stopped:
    kit: KitProcess
    how: str  # "SIGTERM", "SIGKILL after 5 s", or why it could not be stopped


def stop_all(targets: list[KitProcess], grace: float = DEFAULT_GRACE) -> list[Stopped]:
    """SIGTERM each target's process group (or the process alone), wait ``grace`` s, SIGKILL what is left."""
    if not targets:
        return []
    own_groups = set()
    for pid in protected_pids():
        try:
            own_groups.add(os.getpgid(pid))
        except OSError:
            pass
    target_pids = {kp.pid for kp in targets}
    # A whole group only when its leader is one of the kit's processes and it holds none of ours.
    groups = {kp.pgid for kp in targets if kp.pgid in target_pids and kp.pgid not in own_groups}
    _signal(targets, groups, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(kp) for kp in targets):
        time.sleep(0.05)
    left = [kp for kp in targets if _alive(kp)]
    _signal(left, {kp.pgid for kp in left} & groups, signal.SIGKILL)
    time.sleep(0.1 if left else 0)
    results = []
    for kp in targets:
        if kp not in left:
            results.append(Stopped(kp, "SIGTERM"))
        elif not _alive(kp):
            results.append(Stopped(kp, f"SIGKILL after {grace:g} s"))
        else:
            results.append(Stopped(kp, "still running: could not be stopped"))
    return results


def _signal(targets: list[KitProcess], groups: set[int], sig: int) -> None:
    for pgid in groups:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for kp in targets:
        if kp.pgid in groups:
            continue
        try:
            kp.proc.send_signal(sig)  # psutil checks it is still the same process (no reused pid)
        except psutil.Error:
            pass


def _alive(kp: KitProcess) -> bool:
    return running(kp.proc)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME=VALUE",
        help="only processes whose environment also has NAME=VALUE (repeatable); the kit's tests use "
        "it to stop their own processes alone on a shared machine",
    )


def run_clean(args: argparse.Namespace) -> int:
    if args.grace < 0:
        raise ValueError("--grace must not be negative")
    targets = kit_processes(parse_match(args.only))
    if not targets:
        print("clean: nothing to stop: no process the kit started is running")
        return 0
    results = stop_all(targets, args.grace)
    for result in results:
        verb = "NOT stopped" if result.how.startswith("still") else "stopped"
        by_hand = f"; no tag: {result.kit.by_hand}" if result.kit.by_hand else ""
        print(f"{verb} {result.kit.pid:>7}  {result.kit.command}  ({result.how}{by_hand})")
    failed = sum(r.how.startswith("still") for r in results)
    stopped = len(results) - failed
    by_hand = sum(1 for r in results if r.kit.by_hand and not r.how.startswith("still"))
    if by_hand:
        started = stopped - by_hand
        print(f"clean: stopped {_count(stopped)}: {started} the kit started, {by_hand} of the kit's started by hand")
    else:
        print(f"clean: stopped {_count(stopped)} the kit started")
    return 1 if failed else 0


def _count(n: int) -> str:
    return f"{n} process{'es' if n != 1 else ''}"
