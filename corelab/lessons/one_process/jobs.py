"""The small jobs that the in-process lessons (notebooks 06, 07) hand to threads, processes and interpreters.

A spawned process or a subinterpreter imports this module to run one job, so it imports only the
standard library and plumbing: ``import corelab`` loads nothing heavy by itself (its names load on
first use), so a child pays some 40 ms for it, not the second pandas and matplotlib would cost
(and numpy refuses to load in a subinterpreter).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from plumbing.lifeline import die_with_parent


def count_loop(rounds: int) -> int:
    """Pure-Python CPU work: ``rounds`` rounds of integer arithmetic, holding the GIL throughout."""
    x = 0
    for i in range(rounds):
        x = (x * 31 + i) & 0xFFFF
    return x


def hash_password(iterations: int) -> int:
    """CPU work in C that releases the GIL: OpenSSL's PBKDF2 runs outside the interpreter."""
    return len(hashlib.pbkdf2_hmac("sha256", b"correct horse", b"battery staple", iterations))


def timed_job(kind: str, amount: int) -> tuple[float, float, float]:
    """Run one job: when it started and ended (perf_counter) and the CPU seconds its thread used."""
    job = count_loop if kind == "python" else hash_password
    cpu = time.thread_time()
    started = time.perf_counter()
    job(amount)
    return started, time.perf_counter(), time.thread_time() - cpu


def tiny_task(sent_at: float) -> tuple[float, int]:
    """A task with (next to) no work, so its latency is all overhead: when it began, and where."""
    return time.perf_counter() - sent_at, os.getpid()


def warm_up(hold_s: float = 0.0) -> tuple[int, int]:
    """Next to nothing: which worker ran it (pid, thread). Pools run it before timing anything."""
    time.sleep(hold_s)
    return os.getpid(), threading.get_ident()


def tiny_task_over_pipe(conn: Connection, sent_at: float) -> None:
    """The body of a process started for one task: do the tiny task, send the answer, exit."""
    die_with_parent()
    conn.send(tiny_task(sent_at))
    conn.close()


def add_to_counter(name: str, increments: int, mode: str, lock: Any, barrier: Any, results: Any) -> None:
    """One of several processes adding ``increments`` to the int64 in shared memory ``name``.

    ``unlocked``: read, add, write back, with nothing to stop another process writing between the
    read and the write, so some additions are lost. ``locked``: the same under ``lock``, one process
    at a time. ``batched``: count privately and add the total once, under the lock.
    Puts (start, end) on ``results``.
    """
    from multiprocessing.shared_memory import SharedMemory

    die_with_parent()
    shm = SharedMemory(name=name)
    counter = shm.buf.cast("q")
    barrier.wait()  # every process starts adding at the same moment, or they would not collide
    started = time.perf_counter()
    if mode == "unlocked":
        for _ in range(increments):
            counter[0] += 1
    elif mode == "locked":
        for _ in range(increments):
            with lock:
                counter[0] += 1
    else:
        local = 0
        for _ in range(increments):
            local += 1
        with lock:
            counter[0] += local
    ended = time.perf_counter()
    counter.release()  # a view must go before its memory can be closed
    shm.close()
    results.put((started, ended))
