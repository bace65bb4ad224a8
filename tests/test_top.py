"""`python -m corelab top` against real servers: roles, a busy core, following workers, clean exits."""

from __future__ import annotations

import http.client
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from plumbing.procs import PROJECT_ROOT, ManagedProcess, free_port, python_module
from tests.polling import wait_for

TOP = python_module("corelab", "top")
CORE_LINE = re.compile(r"^cpu(\d+)\s+[█░]+\s+([\d.]+)%")
ROW_LINE = re.compile(r"^\s*(└ )?(primary|server|worker|pool|helper|redis|child)\s+(\d+)\s+([\d.]+|…)\s+(\d+|-)")
SERVER_RPS = re.compile(r"^server: ([\d.]+) req/s")
LOCUST_LINE = re.compile(r"^load generator: locust, (\d+) process(?:es)?, (\d+)% of a core")


@dataclass
class Row:
    role: str
    pid: int
    cpu: float | None
    core: int | None
    nested: bool


@dataclass
class TopFrame:
    cores: list[float]
    rows: list[Row]
    server_rps: float | None
    locust_cpu: float | None
    text: str

    def pids(self, role: str) -> set[int]:
        return {r.pid for r in self.rows if r.role == role}

    def row(self, pid: int) -> Row:
        return next(r for r in self.rows if r.pid == pid)


def parse_frames(output: str) -> list[TopFrame]:
    frames = []
    for chunk in re.split(r"^─+ frame \d+/\d+ ─+$", output, flags=re.M)[1:]:
        cores, rows, rps, locust = [], [], None, None
        for line in chunk.splitlines():
            if match := CORE_LINE.match(line):
                cores.append(float(match[2]))
            elif match := ROW_LINE.match(line):
                cpu = None if match[4] == "…" else float(match[4])
                core = None if match[5] == "-" else int(match[5])
                rows.append(Row(match[2], int(match[3]), cpu, core, bool(match[1])))
            elif match := SERVER_RPS.match(line):
                rps = float(match[1])
            elif match := LOCUST_LINE.match(line):
                locust = float(match[2])
        if cores:  # a frame cut short (its rule printed, then top stopped) is not a frame
            frames.append(TopFrame(cores, rows, rps, locust, chunk))
    return frames


def run_top(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TOP, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=timeout)


@contextmanager
def burning(port: int, ms: int = 50, limit_s: float = 30) -> Iterator[int]:
    """Keep one worker busy: back-to-back GET /work?ms=... on one keep-alive connection (so one worker).

    Yields that worker's pid. Bounded: stops after ``limit_s`` even if the test hangs.
    """
    stop = threading.Event()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", f"/work?ms={ms}")
    reply = conn.getresponse()
    reply.read()
    worker = int(reply.headers["X-Worker-Pid"])

    def hammer() -> None:
        deadline = time.monotonic() + limit_s
        while not stop.is_set() and time.monotonic() < deadline:
            conn.request("GET", f"/work?ms={ms}")
            answer = conn.getresponse()
            answer.read()
            assert int(answer.headers["X-Worker-Pid"]) == worker

    thread = threading.Thread(target=hammer, daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        thread.join(15)
        conn.close()


def start_top(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*TOP, *args], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1
    )


def read_until_frame(top: subprocess.Popen[str], number: int) -> str:
    """top's output up to the rule of frame ``number`` (top prints several lines a second)."""
    assert top.stdout is not None
    seen = []
    for line in top.stdout:
        seen.append(line)
        if f" frame {number}/" in line:
            return "".join(seen)
    raise AssertionError(f"top ended before frame {number}: {''.join(seen)}{top.stderr.read() if top.stderr else ''}")


def workers_of(pid: int) -> set[int]:
    return {p.pid for p in psutil.Process(pid).children()}


def test_top_lists_the_cluster_by_role_and_shows_the_busy_core(serve) -> None:
    admin = free_port()
    server = serve("cluster", "--workers", "2", "--policy", "shared", "--admin-port", str(admin))
    workers = workers_of(server.pid)
    # A process pool in one worker: its processes must show up as that worker's pool.
    pooled = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    pooled.request("GET", "/work?ms=5&offload=process")
    pool_owner = int(pooled.getresponse().headers["X-Worker-Pid"])
    pooled.close()
    with burning(server.port) as busy:
        time.sleep(1.5)  # a few heartbeats, so the admin port has a rate to report
        result = run_top("--port", str(server.port), "--admin-port", str(admin), "--frames", "8")
    assert result.returncode == 0, result.stderr
    frames = parse_frames(result.stdout)
    assert len(frames) == 8, result.stdout
    last = frames[-1]
    assert last.pids("primary") == {server.pid}, last.text
    assert last.pids("worker") == workers, last.text
    pool = last.pids("pool")
    assert pool and all(psutil.Process(pid).ppid() == pool_owner for pid in pool), last.text
    assert all(last.row(pid).nested for pid in pool)
    idle = (workers - {busy}).pop()
    # The busy worker burns a core; the other one and the primary do (next to) nothing.
    busy_cpu = [f.row(busy).cpu or 0 for f in frames]
    assert min(busy_cpu) >= 60, busy_cpu
    assert max(f.row(idle).cpu or 0 for f in frames) < 30, last.text
    # Cores are sampled over 0.25 s: a worker the kernel moves between cores splits its time, so
    # ask that some core is busy in most frames, and that both together carry the busy worker.
    assert sum(max(f.cores) >= 60 for f in frames) >= 5, [f.cores for f in frames]
    assert all(sum(f.cores) >= 60 for f in frames), [f.cores for f in frames]
    assert last.server_rps is not None and last.server_rps > 5, last.text


def test_top_follows_a_worker_that_dies_and_is_replaced_and_attaches_by_pid(serve) -> None:
    admin = free_port()
    server = serve("cluster", "--workers", "2", "--policy", "rr", "--admin-port", str(admin))
    before = workers_of(server.pid)
    victim = min(before)
    # --pid of a worker: top climbs to the tree's root, the primary.
    top = start_top("--pid", str(victim), "--admin-port", str(admin), "--frames", "40")
    try:
        head = read_until_frame(top, 3)
        psutil.Process(victim).kill()
        replaced = wait_for(
            lambda: len(workers_of(server.pid) - {victim}) == 2 and workers_of(server.pid), 10, "a worker"
        )
        out, err = top.communicate(timeout=30)
        out = head + out
    finally:
        top.kill()
    assert top.returncode == 0, err
    frames = parse_frames(out)
    assert frames[0].pids("worker") == before, frames[0].text
    assert frames[-1].pids("primary") == {server.pid}
    assert frames[-1].pids("worker") == replaced, frames[-1].text
    assert victim not in {r.pid for r in frames[-1].rows}


def test_top_exits_with_one_line_when_the_server_goes_away(serve) -> None:
    server = serve("cluster", "--workers", "2")
    top = start_top("--port", str(server.port), "--frames", "400")
    try:
        head = read_until_frame(top, 2)
        server.process.stop()
        out, err = top.communicate(timeout=10)
        out = head + out
    finally:
        top.kill()
    assert top.returncode == 0, err
    assert out.splitlines()[-1].startswith(f"corelab top: the server has gone (pid {server.pid}: servers.cluster ")
    assert "req/s: needs --admin-port" in out  # no admin port: says how to get the rate
    assert err == ""


def test_top_stops_on_ctrl_c_with_one_line(serve) -> None:
    server = serve("single")
    top = start_top("--port", str(server.port), "--frames", "400")
    try:
        head = read_until_frame(top, 2)
        top.send_signal(signal.SIGINT)
        out, err = top.communicate(timeout=10)
        out = head + out
    finally:
        top.kill()
    assert top.returncode == 0, err
    assert out.splitlines()[-1] == "corelab top: stopped"
    frames = parse_frames(out)
    assert frames and frames[-1].pids("server") == {server.pid}  # one process: no primary, no workers
    assert err == ""


def test_top_shows_the_load_generators_own_cpu(serve, tmp_path: Path) -> None:
    server = serve("single")
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
    load = [locust, "-f", "loadtests/hello.py", "--headless", "--host", server.url, "--users", "2",
            "--spawn-rate", "2", "--run-time", "20s", "--loglevel", "WARNING", "--only-summary"]  # fmt: skip
    with ManagedProcess(load, log_path=tmp_path / "locust.log") as generator:
        time.sleep(4)  # Locust's start-up, then its users hammering the server
        assert generator.alive(), generator.log_text()
        result = run_top("--port", str(server.port), "--frames", "8")
    assert result.returncode == 0, result.stderr
    frames = parse_frames(result.stdout)
    # A closed loop of 2 users on GET /: Locust itself works hard, and top says how hard.
    cpu = [f.locust_cpu for f in frames]
    assert all(c is not None for c in cpu) and max(cpu) >= 10, result.stdout
    assert "needs --admin-port" in frames[-1].text


def test_top_with_nothing_listening_says_so_in_one_line_and_exits_2() -> None:
    port = free_port()
    result = run_top("--port", str(port), "--frames", "1")
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"nothing is listening on 127.0.0.1:{port}"), result.stderr


def test_top_with_no_such_pid_exits_2() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    result = run_top("--pid", str(gone.pid), "--frames", "1")
    assert result.returncode == 2
    assert result.stderr.strip() == f"no process with pid {gone.pid}"
