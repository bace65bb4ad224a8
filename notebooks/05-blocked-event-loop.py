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
# the health check instant. A **thread pool** does not: pure-Python work holds the GIL, so the loop
# thread still waits its turn for the interpreter. (Node has the same trap and the same way out:
# worker threads there, processes here.)
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
# The cores: with `none` and `thread` one process does all the work, so about one core is busy;
# the process pool puts its workers on as many cores as there are burners and usable cores.

# %%
fig = plot_cores(runs)

# %%
blocked_loop_claim(runs)

# %% [markdown]
# **What to notice.** The probe's latency is the state of the event loop: with `none` it is about
# as long as the queue of burns, with `process` it is a millisecond or so. `thread` is the
# surprise: the thread pool frees the loop only in name. Use threads for work that releases the GIL
# (I/O, hashing, compression, NumPy), processes for pure-Python work. Notebook 06 measures why.
