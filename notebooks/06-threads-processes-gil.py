# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Threads, processes and the GIL; pools vs a worker per task
#
# **Claim.** Where CPython has its GIL (the usual build), one thread runs Python bytecode at a time:
# the same pure-Python job in two threads takes twice as long as in one, and threads add no
# throughput. In two *processes* (each with its own interpreter and GIL) it runs on two cores at once.
# A job that runs in C and releases the GIL (here `hashlib.pbkdf2_hmac`) runs in parallel in threads.
# A free-threaded build (3.13t, 3.14t) with the GIL off changes the first answer: there, threads
# running pure Python use several cores. Subinterpreters (3.14's `InterpreterPoolExecutor`, one GIL
# each) are a fourth mode. The lesson reads the interpreter it runs on (the first cell prints it),
# measures what it offers, skips the rest with the reason, and the claim below says what this run's
# threads did, with its numbers.
#
# **Measurement.** `corelab.lessons.one_process.parallel` runs k copies of one job at once on k
# workers, for k = 1, 2, 4, ... up to twice the usable cores (and the core count itself), and times
# them, while a `Sampler` records every core. Workers are started before the clock runs. Three
# rounds; within each, the speed-up compares runs made seconds apart, and the median round counts.
# *Cores busy* is the jobs' CPU time over their wall time: how many cores really worked.

# %%
import sys

from corelab import pick, plot_parallel_cores, plot_speedup, plot_task_latency
from corelab.lessons.one_process.parallel import run_parallel
from corelab.lessons.one_process.pools import describe_gil, free_threading, subinterpreters
from corelab.lessons.one_process.spawn_cost import run_spawn_cost

print(f"Python {sys.version.split()[0]}:", describe_gil())
print("free-threaded threads:", free_threading()[1])
print("subinterpreters:", subinterpreters()[1])

# %%
result = run_parallel(job_seconds=pick(0.5, 0.2), repeat=3)  # workers: 1, 2, 4, ... up to twice the cores
result.table.round(2)

# %%
fig = plot_speedup(result)

# %% [markdown]
# The cores over the whole measurement. With processes, every usable core lights up. With threads
# running pure Python, it depends on the interpreter: with the GIL on, the total stays at about one
# core however many threads there are; with it off, the threads light up several cores too.

# %%
fig = plot_parallel_cores(result)

# %% [markdown]
# What this run shows, with its numbers: how many cores each mode kept busy with as many workers as
# cores, and its speed-up over one worker.

# %%
result

# %% [markdown]
# ## Pools vs a new worker per task
#
# **Claim.** Starting a process is expensive: a spawned process is a fresh interpreter that imports
# its modules before it does any work, and even a fork costs milliseconds. A pool pays that once and
# then hands each task over in a fraction of a millisecond. Reuse workers; do not start one per
# task. (Threads are cheap to start; whether they help pure-Python work is what was measured above.)
#
# **Measurement.** `corelab.lessons.one_process.spawn_cost` runs a task that does nothing, one after another, and times
# each from asking to holding the result. It forks only where that is safe: on Linux, from a process
# with one thread. This kernel runs several threads, and a forked copy of a threaded process can
# deadlock (Python 3.12+ warns), so here the copy comes from multiprocessing's forkserver helper
# (Linux) or is not made at all (macOS, where spawn is the default); the claim says which and why.

# %%
cost = run_spawn_cost(tasks=pick(200, 40), process_tasks=pick(30, 6))
cost.stats().round(3)

# %%
fig = plot_task_latency(cost)

# %%
cost

# %% [markdown]
# **What to notice.** Where the GIL is on, threads are a tool for waiting (I/O) and for C code that
# releases it, not for pure-Python computation; processes are the tool for that, and a pool of them
# is what makes their start-up cost disappear. That is what `offload=process` did in notebook 05.
# Where the GIL is off (a free-threaded build), threads compute in parallel too, and the first claim
# above says so with its numbers; processes remain the choice that works on every Python.
