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
# watches and respawns. The load plan sizes the run for this machine: one worker per usable core,
# enough users to keep every worker busy, enough Locust processes that none is the limit, and the
# limit itself: the usable cores less what Locust needs of them.

# %%
from corelab import (
    bench,
    every_core_claim,
    load_plan,
    pick,
    plot_cores,
    plot_requests_per_worker,
    plot_throughput_by_variant,
)

plan = load_plan("cpu")
print(plan.describe())

# %%
runs = bench(["single", "cluster"], scenario="cpu", seconds=pick(15, 5))

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
every_core_claim(runs)

# %% [markdown]
# **What to notice.** With the cluster every usable core is lit (the strip beneath the heatmap: the
# workers together near one core's worth per worker), and throughput grows with the cores, up to the
# limit the plan drew: Locust shares the machine, so the workers cannot have all of it. The claim
# above says how close this run came, and whether any worker sat idle. Notebook 3 looks at *how* the
# connections were shared out, and why Node made round-robin its default.
