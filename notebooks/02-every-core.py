# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. A fork cluster uses every core
#
# **Claim.** To use N cores, run N processes. A fork cluster (Node's `cluster` module, PM2's cluster
# mode, gunicorn) has a primary that forks N workers serving one port; each worker has its own
# interpreter, its own GIL and its own event loop, so CPU-bound throughput grows with the cores.
#
# **Measurement.** The same Locust load (`GET /work?ms=10`) against `servers.single` and against
# `python -m servers.cluster` with one worker per core. The primary serves nothing: it forks,
# watches and respawns.

# %%
from corelab import bench, pick, plot_cores, plot_requests_per_worker, plot_throughput_by_variant
from plumbing.cores import usable_core_count

workers = usable_core_count()
print(f"{workers} usable cores, so {workers} workers")

# %%
runs = bench(["single", "cluster"], workers=workers, scenario="cpu", users=8, seconds=pick(15, 5))

# %%
fig = plot_cores(runs)

# %%
fig = plot_throughput_by_variant(runs)

# %% [markdown]
# Every response carries the pid of the worker that produced it (`X-Worker-Pid`), so we can see
# how the requests were shared out:

# %%
fig = plot_requests_per_worker(runs)

# %%
single, cluster = runs.summary.iloc[0], runs.summary.iloc[1]
print(f"One process: {single.rps:.0f} req/s on {single.server_cpu_pct:.0f}% CPU.")
print(
    f"Cluster of {cluster.workers}: {cluster.rps:.0f} req/s on {cluster.server_cpu_pct:.0f}% CPU: "
    f"{cluster.rps / single.rps:.2f}x the throughput (the limit is {cluster.workers}x)."
)
shares = runs.workers[runs.workers["run"] == cluster.run]["share"]
print(f"Busiest worker served {shares.max():.0%} of the requests, the least busy {shares.min():.0%}.")
print(
    f"Locust used {cluster.generator_cpu_pct:.0f}% of a core on the same machine: that, and the sampler, "
    f"is CPU the workers could not have."
)

# %% [markdown]
# **What to notice.** With the cluster every core is lit, and throughput grows by nearly the
# number of cores. It cannot quite reach it here because Locust shares the machine. Notebook 3 looks
# at *how* the connections were shared out, and why Node made round-robin its default.
