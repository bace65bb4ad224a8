"""What a lab's check is given: start the student's server for real, load it, judge, clean up.

A check (``labs/NN-name/check.py``) is a function ``run(lab: LabRun)``. It starts servers with
``lab.start`` (each a ManagedProcess: its own process group, tagged in its environment), loads
them with ``lab.load`` (corelab/classroom/labs/load.py, a process of its own that never retries), and
says what it measured with ``lab.verdict(name, ok, measured, hint)``.

Stopping a server is part of the check: ``lab.stop`` sends SIGTERM to the server's first
process only, as a terminal or a process manager would, and then looks for any process the
server started that is still running (by the tag in its environment, so a process that left
the group is found too). Those are reported as a failure and killed. Whatever happens, a run
ends by killing every process it started.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from corelab.classroom.clean import kit_processes
from corelab.classroom.labs import Lab
from corelab.classroom.labs.load import get
from corelab.classroom.labs.load_result import LoadResult
from plumbing.env import LAB_RUN, LAB_SERVER
from plumbing.procs import ManagedProcess, free_port, running
from plumbing.redis_server import RedisConfig, RedisServer

# Every process one check starts carries RUN_TAG=<the run's id>; a server's own also SERVER_TAG.
RUN_TAG = LAB_RUN
SERVER_TAG = LAB_SERVER
LOAD_SCRIPT = Path(__file__).with_name("load.py")
# A server gets this long to answer its first request, and this long to stop after SIGTERM.
START_TIMEOUT_S = 15.0
STOP_GRACE_S = 8.0
# A load generator above this share of a core measures itself, not the server (design.md).
GENERATOR_BOUND_PCT = 80.0


class StudentError(Exception):
    """The student's server cannot be measured at all; the message is one line saying why."""


@dataclass
class Verdict:
    name: str
    ok: bool
    measured: str
    hint: str = ""


@dataclass
class Server:
    name: str
    port: int
    process: ManagedProcess
    tag: str

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def workers(self) -> list[psutil.Process]:
        """The server's first process's live children (a cluster's workers)."""
        try:
            kids = psutil.Process(self.pid).children()
        except psutil.Error:
            return []
        return [k for k in kids if running(k)]


class LabRun:
    def __init__(self, lab: Lab, code: Path, workdir: Path) -> None:
        self.lab = lab
        self.code = code
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:12]
        self.verdicts: list[Verdict] = []
        self.servers: list[Server] = []
        self.started = time.monotonic()
        # Everything this run starts inherits the tag, the load generator and Redis included.
        os.environ[RUN_TAG] = self.run_id

    @property
    def code_is_starter(self) -> bool:
        """True when the code under check is the lab's starter itself (a baseline is then reused)."""
        return self.code.resolve() == self.lab.folder.resolve()

    # -- servers -------------------------------------------------------------------------------

    def start(
        self,
        name: str,
        argv: list[str],
        *,
        env: dict[str, str] | None = None,
        ready_path: str = "/health",
        ready_line: str | None = None,
        port: int | None = None,
        cwd: Path | None = None,
        timeout: float = START_TIMEOUT_S,
    ) -> Server:
        """Start ``argv`` (``{port}`` in it is replaced) and wait until it answers ``ready_path``."""
        port = port or free_port()
        tag = f"{self.run_id}-{len(self.servers)}"
        argv = [a.replace("{port}", str(port)) for a in argv]
        log = self.workdir / f"{len(self.servers)}-{re.sub(r'[^a-z0-9]+', '-', name.lower())}.log"
        process = ManagedProcess(argv, log_path=log, env={**(env or {}), SERVER_TAG: tag}, cwd=cwd or self.code)
        server = Server(name, port, process, tag)
        self.servers.append(server)
        self._wait_until_serving(server, ready_path, ready_line, timeout)
        return server

    def _wait_until_serving(self, server: Server, path: str, ready_line: str | None, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not server.process.alive():
                code = server.process.wait()
                raise StudentError(
                    f"{server.name} exited at once (exit code {code}) before answering: {last_error(server)}"
                )
            if ready_line is None or ready_line in server.process.log_text():
                status, _pid, _error = self.get(server, path, timeout=1.0)
                if status:
                    return
            if time.monotonic() > deadline:
                raise StudentError(
                    f"{server.name} is running but did not answer {server.url}{path} within {timeout:g} s: "
                    f"does it listen on the --port it is given? (its log: {server.process.log_path})"
                )
            time.sleep(0.1)

    def stop(self, server: Server, *, grace: float = STOP_GRACE_S) -> None:
        """SIGTERM to the server's first process, as Ctrl-C or a process manager would; then
        anything of the server's still running is left behind: a failure, and killed."""
        if server.process.alive():
            os.kill(server.pid, signal.SIGTERM)
            try:
                server.process.wait(grace)
            except Exception:  # subprocess.TimeoutExpired
                self.verdict(
                    f"{server.name} stops on SIGTERM",
                    False,
                    f"still running {grace:g} s after SIGTERM",
                    "stop on SIGTERM: stop the workers (or let them die with you) and exit",
                )
        left = self._leftovers(server.tag, wait=3.0)
        if left:
            described = "; ".join(f"pid {p.pid} ({_cmd(p)})" for p in left[:4])
            self.verdict(
                f"{server.name} leaves nothing behind",
                False,
                f"{len(left)} process(es) still running after it stopped: {described}",
                "children must end with their parent: stop them on SIGTERM, and have the kernel kill them "
                "if the parent dies (Linux: prctl PR_SET_PDEATHSIG; macOS: a lifeline pipe or os.getppid(); "
                "see plumbing/lifeline.py)",
            )
        _kill(left)
        server.process.stop()

    def kill_leftovers(self, server: Server, wait: float = 0.0) -> list[psutil.Process]:
        """The server's processes still alive after ``wait`` seconds (returned, then killed)."""
        left = self._leftovers(server.tag, wait)
        _kill(left)
        return left

    def _leftovers(self, tag: str, wait: float) -> list[psutil.Process]:
        deadline = time.monotonic() + wait
        while True:
            left = tagged(SERVER_TAG, tag)
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.05)

    @contextmanager
    def redis(self) -> Iterator[RedisServer]:
        """A real Redis for the run (REDIS_URL if set, else a redis-server started and stopped here)."""
        with RedisServer(RedisConfig(die_with_parent=True)) as server:
            self.note(f"Redis {server.describe()}")
            yield server

    # -- measuring -----------------------------------------------------------------------------

    def get(self, server: Server, path: str, timeout: float = 5.0) -> tuple[int, int | None, str | None]:
        """One GET on a new connection: (status, X-Worker-Pid, error); status 0 if none came."""
        return asyncio.run(get(server.port, path, timeout))

    def load(
        self,
        server: Server,
        *,
        path: str = "/work?ms=10",
        users: int = 8,
        seconds: float = 7.0,
        probe_path: str | None = None,
        probe_every: float = 0.05,
        probe_after: float = 0.0,
        during: list[tuple[float, Callable[[], object]]] | None = None,
    ) -> LoadResult:
        """Run load.py against ``server`` for ``seconds``; ``during`` is [(at_s, callable)] to run meanwhile."""
        out = self.workdir / f"load-{time.monotonic_ns()}.json"
        argv = [sys.executable, str(LOAD_SCRIPT), "--port", str(server.port), "--path", path]
        argv += ["--users", str(users), "--seconds", f"{seconds:g}", "--out", str(out)]
        if probe_path:
            argv += [
                "--probe-path",
                probe_path,
                "--probe-every",
                f"{probe_every:g}",
                "--probe-after",
                f"{probe_after:g}",
            ]
        with ManagedProcess(argv, log_path=out.with_suffix(".log")) as generator:
            started = time.monotonic()
            for at_s, action in sorted(during or [], key=lambda item: item[0]):
                time.sleep(max(0.0, started + at_s - time.monotonic()))
                action()
            try:
                generator.wait(seconds + 30)
            except Exception as exc:  # subprocess.TimeoutExpired: the kit's fault, not the student's
                raise RuntimeError(f"the load generator did not finish:\n{generator.log_text()}") from exc
        if not out.exists():
            raise RuntimeError(f"the load generator wrote no results:\n{generator.log_text()}")
        data = json.loads(out.read_text())
        rows = [dict(zip(data["fields"], row, strict=True)) for row in data["requests"]]
        return LoadResult(data["seconds"], data["cpu_s"], rows)

    # -- saying what happened ------------------------------------------------------------------

    def note(self, text: str) -> None:
        print(f"  ..    {text}", flush=True)

    def verdict(self, name: str, ok: bool, measured: str, hint: str = "") -> bool:
        self.verdicts.append(Verdict(name, ok, measured, hint))
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {measured}", flush=True)
        if not ok and hint:
            print(f"        look at: {hint}", flush=True)
        return ok

    @property
    def passed(self) -> bool:
        return bool(self.verdicts) and all(v.ok for v in self.verdicts)

    def close(self) -> None:
        """Stop every server of the run and kill anything of the run still alive."""
        for server in self.servers:
            server.process.stop()
        _kill(tagged(RUN_TAG, self.run_id))
        os.environ.pop(RUN_TAG, None)


def tagged(var: str, value: str) -> list[psutil.Process]:
    """Live processes of the kit whose environment has ``var=value`` (corelab clean finds them the same way)."""
    return [kp.proc for kp in kit_processes({var: value})]


def last_error(server: Server) -> str:
    """The line of a log that says what went wrong: a traceback's last line and where it was raised."""
    lines = [line.strip() for line in server.process.log_text().splitlines() if line.strip()]
    if not lines:
        return "it printed nothing"
    where = next((line for line in reversed(lines) if line.startswith('File "')), "")
    match = re.match(r'File "([^"]+)", line (\d+)', where)
    place = f" ({_short(match.group(1))}, line {match.group(2)})" if match else ""
    return f"{lines[-1][:200]}{place}"


def _short(path: str) -> str:
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path


def _cmd(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())[:80]
    except psutil.Error:
        return "?"


def _kill(procs: list[psutil.Process]) -> None:
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=3)
