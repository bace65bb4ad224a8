"""The pools the parallel lessons (notebook 06) run their jobs on, and what this interpreter offers.

Threads, spawned processes and, from Python 3.14, subinterpreters; ``start_workers`` boots a
pool's workers before anything is timed. What the lessons say about threads depends on the
interpreter, so it is read here, never assumed: whether the build is free-threaded
(``Py_GIL_DISABLED``), whether the GIL is on in this process now (``sys._is_gil_enabled()``), and
which start method a bare ``ProcessPoolExecutor()`` would use (forkserver on Linux from 3.14).
"""

from __future__ import annotations

import multiprocessing
import subprocess
import sys
import sysconfig
import time
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context

from corelab.lessons.one_process.jobs import warm_up
from plumbing.lifeline import die_with_parent

# What each start method means for the processes a pool shows (lab 2's check and the notebooks say it).
START_METHODS = {
    "fork": "each worker is a forked copy of the process that makes the pool",
    "forkserver": "a helper process (multiprocessing's forkserver) forks each worker; it is not a worker",
    "spawn": "each worker is a fresh interpreter that imports its modules",
}


def free_threaded_build() -> bool:
    """True on a build made to run without the GIL (3.13t, 3.14t), whether or not the GIL is on now."""
    return sysconfig.get_config_var("Py_GIL_DISABLED") == 1


def gil_enabled() -> bool:
    """Whether the GIL is on in this process now: always on a normal build; on a free-threaded one,
    off unless PYTHON_GIL=1 or an extension module that does not support running without it was
    imported (the interpreter then turns it back on for the rest of the process)."""
    return bool(getattr(sys, "_is_gil_enabled", lambda: True)())


def interpreter_name() -> str:
    """This interpreter as a student would name it: ``CPython 3.13.0``, ``CPython 3.14.0t`` (free-threaded)."""
    implementation = sys.implementation.name.replace("cpython", "CPython")
    return f"{implementation} {sys.version.split()[0]}{'t' if free_threaded_build() else ''}"


def describe_gil(enabled: bool | None = None) -> str:
    """``CPython 3.11.7 (GIL on)``, ``CPython 3.14.0t (free-threaded, GIL off)``: what the sentences name."""
    enabled = gil_enabled() if enabled is None else enabled
    build = "free-threaded, " if free_threaded_build() else ""
    return f"{interpreter_name()} ({build}GIL {'on' if enabled else 'off'})"


def free_threading() -> tuple[bool, str]:
    """(True, how) when threads can run Python code in parallel here; (False, why not) otherwise."""
    version = interpreter_name()
    if not free_threaded_build():
        return False, f"{version} is built with the GIL; free-threaded threads need a 3.13t/3.14t build"
    if gil_enabled():
        return False, f"{version} is a free-threaded build, but the GIL is enabled (PYTHON_GIL=1 or an old extension)"
    return True, f"{version} free-threaded build, GIL disabled"


def gil_enabled_in_child(imports: Sequence[str]) -> bool:
    """Whether a new process of this interpreter has the GIL on after importing ``imports``.

    A server the kit starts runs on this interpreter but imports more (aiohttp and its C
    extensions): on a free-threaded build one extension without free-threading support turns the
    GIL back on there. On a build with the GIL the answer is known without starting anything.
    """
    if not free_threaded_build():
        return True
    code = "import sys\n" + "".join(f"import {name}\n" for name in imports) + "print(int(sys._is_gil_enabled()))"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:  # cannot tell: the GIL-on answer is the one that overclaims nothing
        return True
    return done.stdout.strip().endswith("1")


def default_start_method() -> str:
    """The start method a bare ``ProcessPoolExecutor()`` would use here: fork on Linux up to 3.13,
    forkserver on Linux from 3.14, spawn on macOS and Windows; whatever set_start_method chose.

    Read without fixing it: ``multiprocessing.get_start_method()`` would set the default for good,
    and a student's later ``set_start_method`` would then fail.
    """
    chosen = multiprocessing.get_start_method(allow_none=True)
    if chosen:
        return chosen
    default = getattr(getattr(multiprocessing.context, "_default_context", None), "_default_context", None)
    name = getattr(default, "_name", None)
    return name if isinstance(name, str) else multiprocessing.get_start_method()


def subinterpreters() -> tuple[bool, str]:
    """(True, how) when concurrent.futures.InterpreterPoolExecutor exists (3.14+); else (False, why)."""
    import concurrent.futures

    if hasattr(concurrent.futures, "InterpreterPoolExecutor"):
        return True, "concurrent.futures.InterpreterPoolExecutor (one GIL per interpreter)"
    return False, (f"{interpreter_name()} has no concurrent.interpreters / InterpreterPoolExecutor (new in 3.14)")


def thread_pool(k: int) -> Executor:
    return ThreadPoolExecutor(max_workers=k, thread_name_prefix="parallel")


def process_pool(k: int) -> Executor:
    # spawn, named, not the default: a Jupyter kernel runs threads, forking a threaded process is
    # unsafe, and the default differs by Python and OS (fork, forkserver from 3.14, spawn on macOS).
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
