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
# **Claim.** CPython's GIL lets one thread run Python bytecode at a time. The same pure-Python job in
# two threads takes twice as long as in one: threads add no throughput. In two *processes* (each with
# its own interpreter and GIL) it runs on two cores at once. A job that runs in C and releases the
# GIL (here `hashlib.pbkdf2_hmac`) does run in parallel in threads. Free-threaded builds (3.13t,
# 3.14t) and subinterpreters (3.14's `InterpreterPoolExecutor`) change the first answer; they are
# measured where this interpreter has them, and skipped with the reason where it does not.
#
# **Measurement.** `corelab.lessons.one_process.parallel` runs k copies of one job at once on k
# workers, for k = 1, 2, 4, ... up to twice the usable cores (and the core count itself), and times
# them, while a `Sampler` records every core. Workers are started before the clock runs. Three
# rounds; within each, the speed-up compares runs made seconds apart, and the median round counts.
# *Cores busy* is the jobs' CPU time over their wall time: how many cores really worked.

# %%
import sys

from corelab import pick, plot_parallel_cores, plot_speedup, plot_task_latency
from corelab.lessons.one_process.parallel import free_threading, run_parallel, subinterpreters
from corelab.lessons.one_process.spawn_cost import run_spawn_cost

print(f"Python {sys.version.split()[0]}")
print("free-threaded threads:", free_threading()[1])
print("subinterpreters:", subinterpreters()[1])

# %%
result = run_parallel(job_seconds=pick(0.5, 0.2), repeat=3)  # workers: 1, 2, 4, ... up to twice the cores
result.table.round(2)

# %%
fig = plot_speedup(result)

# %% [markdown]
# The cores over the whole measurement. With threads running pure Python, the total stays at
# about one core however many threads there are; with processes, every usable core lights up.

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
# task. (Threads are cheap to start, but they do not help pure-Python work, as measured above.)
#
# **Measurement.** `corelab.lessons.one_process.spawn_cost` runs a task that does nothing, one after another, and times
# each from asking to holding the result.

# %%
cost = run_spawn_cost(tasks=pick(200, 40), process_tasks=pick(30, 6))
cost.stats().round(3)

# %%
fig = plot_task_latency(cost)

# %%
cost

# %% [markdown]
# **What to notice.** The GIL makes threads a tool for waiting (I/O) and for C code that releases
# it, not for pure-Python computation; processes are the tool for that, and a pool of them is what
# makes their start-up cost disappear. That is what `offload=process` did in notebook 05.
