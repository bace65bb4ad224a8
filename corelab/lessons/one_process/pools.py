"""The pools the parallel lessons (notebook 06) run their jobs on, and what this interpreter offers.

Threads, spawned processes and, from Python 3.14, subinterpreters; ``start_workers`` boots a
pool's workers before anything is timed.
"""

from __future__ import annotations

import sys
import sysconfig
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context

from corelab.lessons.one_process.jobs import warm_up
from plumbing.lifeline import die_with_parent


def free_threading() -> tuple[bool, str]:
    """(True, how) when threads can run Python code in parallel here; (False, why not) otherwise."""
    build = sysconfig.get_config_var("Py_GIL_DISABLED") == 1
    version = f"CPython {sys.version.split()[0]}"
    if not build:
        return False, f"{version} is built with the GIL; free-threaded threads need a 3.13t/3.14t build"
    # A free-threaded build turns the GIL back on when an extension module asks for it.
    if getattr(sys, "_is_gil_enabled", lambda: True)():
        return False, f"{version} is a free-threaded build, but the GIL is enabled (PYTHON_GIL=1 or an old extension)"
    return True, f"{version} free-threaded build, GIL disabled"


def subinterpreters() -> tuple[bool, str]:
    """(True, how) when concurrent.futures.InterpreterPoolExecutor exists (3.14+); else (False, why)."""
    import concurrent.futures

    if hasattr(concurrent.futures, "InterpreterPoolExecutor"):
        return True, "concurrent.futures.InterpreterPoolExecutor (one GIL per interpreter)"
    return False, (
        f"CPython {sys.version.split()[0]} has no concurrent.interpreters / InterpreterPoolExecutor (new in 3.14)"
    )


def thread_pool(k: int) -> Executor:
    return ThreadPoolExecutor(max_workers=k, thread_name_prefix="parallel")


def process_pool(k: int) -> Executor:
    # spawn, not fork: a Jupyter kernel runs threads, and forking a threaded process is unsafe.
    return ProcessPoolExecutor(max_workers=k, mp_context=get_context("spawn"), initializer=die_with_parent)


def interpreter_pool(k: int) -> Executor:
    import concurrent.futures

    return concurrent.futures.InterpreterPoolExecutor(max_workers=k)  # type: ignore[attr-defined]


def start_workers(pool: Executor, k: int, timeout: float = 60.0) -> None:
    """Return once ``k`` different workers of ``pool`` have run a task.

    A pool may start its workers only as work arrives, and a spawned one takes a while to boot:
    without this, the first timed jobs would share the workers already up and look slow.
    """
    seen: set[tuple[int, int]] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < k:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(seen)} of {k} workers started within {timeout:g} s")
        # Each task holds its worker briefly, so that one fast worker cannot answer them all.
        seen.update(pool.map(warm_up, [0.05] * k))
