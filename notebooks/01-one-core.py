# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. One Python process uses one core
#
# **Claim.** A Python web server is one process running one event loop, and the GIL lets one thread
# run Python bytecode at a time. CPU-bound requests are therefore served one after another, on one
# core, however many cores the machine has and however many users wait. (Node's single JavaScript
# thread is the same story.)
#
# **Measurement.** Locust users send `GET /work?ms=10` (10 ms of pure-Python CPU per request, in
# `servers/burn.py`) to `python -m servers.single`, as fast as it answers, while corelab samples
# every core ten times a second. Locust runs on the same machine, so corelab also records its CPU.

# %%
from corelab import bench, one_core_claim, pick, plot_cores, plot_throughput

# %%
runs = bench(["single"], scenario="cpu", users=8, seconds=pick(15, 5))

# %% [markdown]
# Each row is a core, time runs left to right, and the colour is how busy the core was. The strip
# beneath says whose work it was, in cores' worth: the server (green), Locust (cyan), everything else
# (grey: the kernel, your browser, JupyterLab). A pale veil marks cells busy mostly with something
# other than the server.

# %%
fig = plot_cores(runs)

# %%
fig = plot_throughput(runs)

# %%
one_core_claim(runs)

# %% [markdown]
# **What to notice.** The server's strip stays at one core's worth. The scheduler may move the
# process between cores, so on a busy laptop several rows can light part-way, but it never runs on
# two at once: the claim says how often it moved in this run. More users would only make the queue
# longer: the throughput stays at one core's worth. The next notebook adds processes.
