# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Async is not parallel: when a cluster is the wrong tool
#
# **Claim.** An event loop gives concurrency, not parallelism. When requests spend their time
# *waiting* (a database, another service), one process keeps many of them in flight with little
# CPU, and a cluster adds nothing: there was no CPU work to spread. The kitchen analogy: one chef
# can keep fifty pots simmering by turning from one to the next while each one waits; more chefs
# help only when the work is chopping, not waiting.
#
# **Measurement.** 50 Locust users send `GET /io?ms=50` (50 ms of `asyncio.sleep`, no CPU) to one
# process and to a 2-worker cluster. Fifty users each waiting 50 ms allow at most 1,000 requests/s.

# %%
from corelab import bench, not_parallel_claim, pick, plot_cores, plot_throughput_by_variant

# %%
runs = bench(["single", "cluster"], scenario="io", seconds=pick(20, 5))
runs

# %%
fig = plot_throughput_by_variant(runs)

# %%
fig = plot_cores(runs, title="the cores are mostly idle either way")

# %%
not_parallel_claim(runs)

# %% [markdown]
# **What to notice.** Throughput is set by the users and the wait (users / 50 ms), not by the
# cores, and the server's CPU stays far below one core. Compare notebook 02, where the work was CPU:
# there the cluster multiplied the throughput by about the number of cores. Choose the tool by what
# the requests spend their time on.
