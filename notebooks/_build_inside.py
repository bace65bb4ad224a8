"""Build notebooks 05-08 (inside one process) without outputs: python notebooks/_build_inside.py

The cells are then formatted by ruff, as `make lint` checks them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell as code
from nbformat.v4 import new_markdown_cell as md
from nbformat.v4 import new_notebook

HERE = Path(__file__).resolve().parent
WRITTEN: list[Path] = []

META = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def write(name: str, cells: list) -> None:
    nb = new_notebook(cells=cells, metadata=META)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"c{i:02d}"  # stable ids: rebuilding changes only what changed
    nbformat.write(nb, HERE / name)
    WRITTEN.append(HERE / name)


write(
    "05-blocked-event-loop.ipynb",
    [
        md("""# 5. The blocked event loop

**Claim.** An async server runs every request on one event loop. CPU work done *on* the loop stops
everything else in the process: a request that needs no work at all (a health check) waits until
the burns queued before it are done. Handing the work to a **process pool** keeps the loop free and
the health check instant. A **thread pool** does not: pure-Python work holds the GIL, so the loop
thread still waits its turn for the interpreter. (Node has the same trap and the same way out:
worker threads there, processes here.)

**Measurement.** `python -m servers.single` serves `GET /work?ms=50&offload=MODE` (50 ms of
pure-Python CPU, on the loop, in a `ThreadPoolExecutor`, or in a `ProcessPoolExecutor` made once
per server and reused) to four Locust users sending back to back, while a fifth user probes
`GET /health` 20 times a second, from the third second on (the steady state, not start-up).
Locust reports the probe under its own name, `probe /health` (`loadtests/blocked_loop.py`).
One run per offload mode."""),
        code("""from corelab import bench, pick, plot_cores, plot_probe_latency
from corelab.blocked_loop import probe_table"""),
        code("""runs = bench(
    ["single"],
    scenario="blocked",
    params=[{"offload": mode} for mode in ("none", "thread", "process")],
    seconds=pick(20, 8),
)
probe_table(runs).round(1)"""),
        md("""Left: the probe's p99 latency over time (log scale). Middle: over the whole run. Right: how many
CPU requests each mode served."""),
        code("""plot_probe_latency(runs, title="a health probe beside 50 ms CPU requests");"""),
        md("""The cores: with `none` and `thread` one process does all the work, so about one core is busy;
the process pool puts its workers on both."""),
        code("""plot_cores(runs, title="one server, three ways to run the CPU work");"""),
        code("""t = probe_table(runs)
none, thread, process = (t.loc[m] for m in ("none", "thread", "process"))
print(f"offload=none: the probe's p99 was {none.probe_p99_ms:.0f} ms (median {none.probe_p50_ms:.0f} ms): "
      f"it waited behind the 50 ms burns running on the event loop.")
print(f"offload=thread: p99 {thread.probe_p99_ms:.0f} ms (median {thread.probe_p50_ms:.0f} ms): the burn left "
      f"the loop, but pure Python holds the GIL, so the loop thread waited for the interpreter.")
ratio = none.probe_p99_ms / process.probe_p99_ms
print(f"offload=process: p99 {process.probe_p99_ms:.0f} ms (median {process.probe_p50_ms:.0f} ms), "
      f"{ratio:.0f}x lower than offload=none: the loop stayed free.")
print(f"CPU requests served: none {none.work_rps:.0f}/s, thread {thread.work_rps:.0f}/s, "
      f"process {process.work_rps:.0f}/s (the pool's processes run on every core; the loop and the thread "
      f"pool share one GIL).")"""),
        md("""**What to notice.** The probe's latency is the state of the event loop: with `none` it is about
as long as the queue of burns, with `process` it is a millisecond or so. `thread` is the
surprise: the thread pool frees the loop only in name. Use threads for work that releases the GIL
(I/O, hashing, compression, NumPy), processes for pure-Python work. Notebook 06 measures why."""),
    ],
)

write(
    "06-threads-processes-gil.ipynb",
    [
        md("""# 6. Threads, processes and the GIL; pools vs a worker per task

**Claim.** CPython's GIL lets one thread run Python bytecode at a time. The same pure-Python job in
two threads takes twice as long as in one: threads add no throughput. In two *processes* (each with
its own interpreter and GIL) it runs on two cores at once. A job that runs in C and releases the
GIL (here `hashlib.pbkdf2_hmac`) does run in parallel in threads. Free-threaded builds (3.13t,
3.14t) and subinterpreters (3.14's `InterpreterPoolExecutor`) change the first answer; they are
measured where this interpreter has them, and skipped with the reason where it does not.

**Measurement.** `corelab.parallel` runs k copies of one job at once on k workers, for k = 1, 2, 4,
and times them, while a `Sampler` records every core. Workers are started before the clock runs.
Three rounds; within each, the speed-up compares runs made seconds apart, and the median round
counts. *Cores busy* is the jobs' CPU time over their wall time: how many cores really worked."""),
        code("""import sys

from corelab import pick, plot_parallel_cores, plot_speedup, plot_task_latency
from corelab.parallel import free_threading, run_parallel, subinterpreters
from corelab.spawn_cost import run_spawn_cost

print(f"Python {sys.version.split()[0]}")
print("free-threaded threads:", free_threading()[1])
print("subinterpreters:", subinterpreters()[1])"""),
        code("""result = run_parallel(workers=[1, 2, 4], job_seconds=pick(0.5, 0.2), repeat=3)
result"""),
        code("""plot_speedup(result);"""),
        md("""The cores over the whole measurement. With threads running pure Python, the total stays at
about one core however many threads there are; with processes, both cores light up."""),
        code("""plot_parallel_cores(result);"""),
        code("""from corelab.parallel import HASH_THREADS, PURE_PROCESSES, PURE_THREADS

threads2, procs2, hash2 = (result.speedup(mode, 2) for mode in (PURE_THREADS, PURE_PROCESSES, HASH_THREADS))
print(f"Pure Python: 2 threads give {threads2:.2f}x the throughput of one thread; 2 processes give {procs2:.2f}x "
      f"on {result.cores_available} cores.")
print(f"hashlib (the GIL released in C): 2 threads give {hash2:.2f}x.")
busy = {mode: result.cores_busy(mode, 2) for mode in (PURE_THREADS, PURE_PROCESSES, HASH_THREADS)}
print("Cores busy with 2 workers (CPU seconds / wall seconds): " + ", ".join(f"{m} {b:.2f}" for m, b in busy.items()))
if result.free_threaded:
    print("This interpreter is a free-threaded build with the GIL off: its threads ran Python in parallel.")
for mode, why in result.skipped.items():
    print(f"Not measured here: {mode}: {why}.")"""),
        md("""## Pools vs a new worker per task

**Claim.** Starting a process is expensive: a spawned process is a fresh interpreter that imports
its modules before it does any work, and even a fork costs milliseconds. A pool pays that once and
then hands each task over in a fraction of a millisecond. Reuse workers; do not start one per
task. (Threads are cheap to start, but they do not help pure-Python work, as measured above.)

**Measurement.** `corelab.spawn_cost` runs a task that does nothing, one after another, and times
each from asking to holding the result."""),
        code("""cost = run_spawn_cost(tasks=pick(200, 40), process_tasks=pick(30, 6))
cost"""),
        code("""plot_task_latency(cost);"""),
        code("""from corelab.spawn_cost import NEW_FORK, NEW_SPAWN, NEW_THREAD, POOL_PROCESS, POOL_THREAD

pool, spawn = cost.median_ms(POOL_PROCESS), cost.median_ms(NEW_SPAWN)
print(f"A task through the reused process pool: median {pool:.2f} ms of overhead.")
print(f"A new spawned process per task: median {spawn:.0f} ms, {spawn / pool:.0f}x the pool's.")
if NEW_FORK in set(cost.latencies["mode"]):
    print(f"A new forked process per task: median {cost.median_ms(NEW_FORK):.1f} ms.")
print(f"Threads: {cost.median_ms(POOL_THREAD):.3f} ms through a pool, "
      f"{cost.median_ms(NEW_THREAD):.3f} ms for a new one per task.")"""),
        md("""**What to notice.** The GIL makes threads a tool for waiting (I/O) and for C code that releases
it, not for pure-Python computation; processes are the tool for that, and a pool of them is what
makes their start-up cost disappear. That is what `offload=process` did in notebook 05."""),
    ],
)

write(
    "07-shared-memory.ipynb",
    [
        md("""# 7. Shared memory and locks

**Claim.** `multiprocessing.shared_memory.SharedMemory` is Python's SharedArrayBuffer: bytes that
several processes map at once. `counter[0] += 1` on it is three steps (read, add, write back), so
two processes on two cores that add at the same time overwrite each other's additions: updates
are lost. A `multiprocessing.Lock` makes the count exact, at a cost per operation. Counting
privately and adding the total once under the lock is exact and cheap.

**What plays the part of Atomics.** Python's standard library has no atomic operations on shared
memory: nothing like `Atomics.add` or `Atomics.compareExchange`. `multiprocessing.Lock`, `RLock`
and `Value` (whose `get_lock()` you must hold yourself: `value.value += 1` is not atomic) play the
lock; `Condition`, `Event` and `Semaphore` play `Atomics.wait`/`notify`. The GIL makes some
operations atomic between the threads of one process, never between processes. Lock-free atomics
on a buffer exist only in third-party packages (for example `atomics` on PyPI).

**Measurement.** `corelab.shared_counter` starts two processes that wait at a barrier, then each
adds to one 64-bit counter in shared memory: without a lock, with a lock per addition, and batched."""),
        code("""from corelab import pick, plot_shared_counter
from corelab.shared_counter import run_shared_counter"""),
        code("""counter = run_shared_counter(processes=2, increments=pick(500_000, 100_000))
counter"""),
        code("""plot_shared_counter(counter);"""),
        code("""unlocked, locked, batched = (counter.row(m) for m in ("unlocked", "locked", "batched"))
print(f"Without a lock, {int(unlocked.expected):,} additions left the counter at {int(unlocked.counted):,}: "
      f"{int(unlocked.lost):,} lost ({unlocked.lost_pct:.0f}%).")
print(f"With a lock per addition the count is {'exact' if locked.lost == 0 else 'WRONG'} "
      f"({int(locked.counted):,}), at {locked.ns_per_op:.0f} ns per addition against {unlocked.ns_per_op:.0f} ns: "
      f"the lock costs about {counter.lock_cost_ns:.0f} ns each.")
print(f"Batched (count privately, add once under the lock): {'exact' if batched.lost == 0 else 'WRONG'}, "
      f"{batched.ns_per_op:.0f} ns per addition.")"""),
        md("""**What to notice.** The lost updates are not rare accidents: two cores adding at once lose a
large share. A lock per operation is correct and slow (a system call when it is contended);
sharing less, and synchronising once per batch, is correct and fast."""),
    ],
)

write(
    "08-async-is-not-parallel.ipynb",
    [
        md("""# 8. Async is not parallel: when a cluster is the wrong tool

**Claim.** An event loop gives concurrency, not parallelism. When requests spend their time
*waiting* (a database, another service), one process keeps many of them in flight with little
CPU, and a cluster adds nothing: there was no CPU work to spread. The kitchen analogy: one chef
can keep fifty pots simmering by turning from one to the next while each one waits; more chefs
help only when the work is chopping, not waiting.

**Measurement.** 50 Locust users send `GET /io?ms=50` (50 ms of `asyncio.sleep`, no CPU) to one
process and to a 2-worker cluster. Fifty users each waiting 50 ms allow at most 1,000 requests/s."""),
        code("""from corelab import bench, pick, plot_cores, plot_throughput_by_variant"""),
        code("""runs = bench(["single", "cluster"], scenario="io", seconds=pick(20, 5))
runs"""),
        code("""plot_throughput_by_variant(runs, title="I/O-bound: one process vs a 2-worker cluster");"""),
        code("""plot_cores(runs, title="the cores are mostly idle either way");"""),
        code("""single, cluster = runs.summary.iloc[0], runs.summary.iloc[1]
users = int(single.users)
print(f"One process served {single.rps:.0f} requests/s with {users} users in flight (at most {users * 1000 / 50:.0f}/s "
      f"when each waits 50 ms), using {single.server_cpu_pct:.0f}% of one core; median latency {single.p50_ms:.0f} ms.")
print(f"The 2-worker cluster served {cluster.rps:.0f} requests/s ({cluster.rps / single.rps:.2f}x) using "
      f"{cluster.server_cpu_pct:.0f}% CPU: a second process added nothing, "
      f"the requests were waiting, not computing.")"""),
        md("""**What to notice.** Throughput is set by the users and the wait (users / 50 ms), not by the
cores, and the server's CPU stays far below one core. Compare notebook 02, where the work was CPU:
there the cluster doubled the throughput. Choose the tool by what the requests spend their time on."""),
    ],
)

ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
subprocess.run([ruff, "format", "--quiet", *map(str, WRITTEN)], check=True)
