# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. The blocked event loop
#
# **Claim.** An async server runs every request on one event loop. CPU work done *on* the loop stops
# everything else in the process: a request that needs no work at all (a health check) waits until
# the burns queued before it are done. Handing the work to a **process pool** keeps the loop free and
# the health check instant, on every Python. A **thread pool** depends on the interpreter: where the
# GIL is on (the usual CPython build) pure-Python work in a thread still takes turns with the loop
# thread, so the probe barely improves; on a free-threaded build with the GIL off (3.13t, 3.14t) the
# thread burns beside the loop on another core. The first cell says which interpreter this is, and the
# claim at the end says what this run's thread pool did. (Node has the same trap and the same way
# out: worker threads there, processes here.)
#
# **Measurement.** `python -m servers.single` serves `GET /work?ms=50&offload=MODE` (50 ms of
# pure-Python CPU, on the loop, in a `ThreadPoolExecutor`, or in a `ProcessPoolExecutor` made once
# per server and reused) to four Locust users sending back to back, while a fifth user probes
# `GET /health` 20 times a second, from the third second on (the steady state, not start-up).
# Locust reports the probe under its own name, `probe /health` (`loadtests/blocked_loop.py`).
# One run per offload mode.

# %%
from corelab import bench, blocked_loop_claim, pick, plot_cores, plot_probe_latency
from corelab.lessons.one_process.blocked_loop import probe_table
from corelab.lessons.one_process.pools import describe_gil

print("the servers run on", describe_gil())

# %%
runs = bench(
    ["single"],
    scenario="blocked",
    params=[{"offload": mode} for mode in ("none", "thread", "process")],
    seconds=pick(20, 8),
)
probe_table(runs).round(1)

# %% [markdown]
# Left: the probe's p99 latency over time (log scale). Middle: over the whole run. Right: how many
# CPU requests each mode served.

# %%
fig = plot_probe_latency(runs)

# %% [markdown]
# The cores: with `none` one process does all the work on one thread, so about one core is busy; with
# `thread` too where the GIL is on (without it, the thread pool's burns can spread over the cores);
# the process pool puts its workers on as many cores as there are burners and usable cores.

# %%
fig = plot_cores(runs)

# %%
blocked_loop_claim(runs)

# %% [markdown]
# **What to notice.** The probe's latency is the state of the event loop: with `none` it is about
# as long as the queue of burns, with `process` it is a millisecond or so. `thread` is the one that
# depends on the interpreter, and the claim above says which this was. With the GIL, the thread pool
# frees the loop only in name: use threads for work that releases the GIL (I/O, hashing, compression,
# NumPy) and processes for pure-Python work. Without it, threads free the loop too, and processes
# still keep each burn's memory and crashes apart. Notebook 06 measures why.
