"""A variant killed by SIGKILL takes everything it started with it: workers and its own Redis; and a
child dies with its parent where the kernel has no PR_SET_PDEATHSIG too (the lifeline pipe)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import psutil
import pytest

from plumbing.procs import running


def test_a_sigkilled_pubsub_primary_leaves_no_worker_and_no_redis(serve) -> None:
    server = serve("pubsub", "--workers", "2")
    children = psutil.Process(server.pid).children(recursive=True)
    names = " ".join(" ".join(c.cmdline()) for c in children)
    assert "redis-server" in names and len(children) >= 3  # its Redis and two workers
    server.process.popen.send_signal(signal.SIGKILL)
    server.process.wait(5)
    time.sleep(2.0)
    alive = [c.pid for c in children if running(c)]
    assert alive == [], f"outlived their primary: {alive}"


# The parent of test_lifeline_*: a ManagedProcess started as on macOS (no PR_SET_PDEATHSIG, so a
# lifeline pipe and its watcher), which prints the child's pid and waits to be killed.
LIFELINE_PARENT = """
import sys, time
from plumbing import lifeline
lifeline.has_parent_death_signal = lambda: False  # as on macOS: set_parent_death_signal() is False
assert lifeline.set_parent_death_signal() is False
from plumbing.procs import ManagedProcess
child = ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"], die_with_parent=True)
print(child.pid, child._lifeline.watcher.pid, flush=True)
time.sleep(60)
"""


def _watcher_and_child(parent: subprocess.Popen[str]) -> tuple[psutil.Process, psutil.Process]:
    assert parent.stdout is not None
    line = parent.stdout.readline().split()
    assert len(line) == 2, f"the parent did not start its child: {line}"
    child, watcher = (psutil.Process(int(pid)) for pid in line)
    assert "lifeline_watch.py" in " ".join(watcher.cmdline())
    return child, watcher


def test_lifeline_pipe_kills_the_child_of_a_sigkilled_parent_where_the_kernel_cannot() -> None:
    """The macOS path, run for real on Linux: no PDEATHSIG, only the lifeline pipe's watcher."""
    with subprocess.Popen([sys.executable, "-c", LIFELINE_PARENT], stdout=subprocess.PIPE, text=True) as parent:
        try:
            child, watcher = _watcher_and_child(parent)
            assert running(child) and running(watcher)
            parent.send_signal(signal.SIGKILL)
            parent.wait(5)
            deadline = time.monotonic() + 3.0
            while (running(child) or running(watcher)) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not running(child), "the child outlived its SIGKILLed parent"
            assert not running(watcher), "the watcher outlived its work"
        finally:
            parent.kill()


def test_lifeline_watcher_goes_with_a_child_stopped_normally(monkeypatch) -> None:
    from plumbing import lifeline
    from plumbing.procs import ManagedProcess

    monkeypatch.setattr(lifeline, "has_parent_death_signal", lambda: False)
    with ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"], die_with_parent=True) as child:
        assert child._lifeline is not None and child._lifeline.watcher is not None
        watcher = psutil.Process(child._lifeline.watcher.pid)
        assert running(watcher)
    assert child._lifeline is None and not running(watcher)


def test_lifeline_watcher_releases_when_the_child_exits_by_itself(monkeypatch) -> None:
    from plumbing import lifeline
    from plumbing.procs import ManagedProcess

    monkeypatch.setattr(lifeline, "has_parent_death_signal", lambda: False)
    child = ManagedProcess([sys.executable, "-c", "pass"], die_with_parent=True)
    assert child._lifeline is not None and child._lifeline.watcher is not None
    watcher = psutil.Process(child._lifeline.watcher.pid)
    assert child.wait(10) == 0
    # Reaped: its pgid may be reused, so the watcher has acted and gone.
    assert child._lifeline is None and not running(watcher)


def test_linux_keeps_the_kernel_path() -> None:
    from plumbing import lifeline
    from plumbing.procs import ManagedProcess

    if not lifeline.has_parent_death_signal():
        pytest.skip("not Linux: the lifeline pipe is the only path here")
    with ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"], die_with_parent=True) as child:
        assert child._lifeline is None


def test_a_child_started_from_a_thread_outlives_that_thread() -> None:
    """PR_SET_PDEATHSIG fires when the starting *thread* exits: a Redis restarted by a `during`
    callback's thread would be killed as soon as the callback returned. Such a child gets a lifeline."""
    import threading

    from plumbing.procs import ManagedProcess

    started: list[ManagedProcess] = []
    thread = threading.Thread(
        target=lambda: started.append(
            ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"], die_with_parent=True)
        )
    )
    thread.start()
    thread.join()
    child = started[0]
    with child:
        time.sleep(0.5)  # the kernel would have sent SIGKILL at once
        assert child.alive(), "the child died with the thread that started it"
        assert child._lifeline is not None  # it still dies with this process, by the pipe
