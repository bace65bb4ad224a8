# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 11. The Redis pub/sub adapter: every message reaches every room member
#
# **Claim.** With python-socketio's `AsyncRedisManager`, a worker delivers an emit to its own
# clients and publishes it on a Redis channel; every other worker delivers it to theirs. With
# sticky routing (notebook 10) and this adapter (`python -m servers.pubsub`), every message
# reaches everyone in the room, whichever worker holds them, for a few milliseconds more.
# Redis pub/sub is at most once: while a worker is cut off from Redis, what the others publish
# never reaches its clients, and the adapter does not say so. Local delivery carries on.
#
# **Measurement.** The chat scenario of notebook 10, against `servers.sticky` and
# `servers.pubsub` (2 workers each), with a real Redis (`bench(..., redis=True)`: `REDIS_URL` if
# set, else a Redis-compatible server started on a free port and stopped after, as in notebook 09).
# Then the same load on pubsub while its Redis is stopped for a few seconds and started again.

# %%
from corelab import (
    bench,
    delivery,
    pick,
    plot_connections_per_worker,
    plot_delivery,
    plot_delivery_latency,
    plot_delivery_over_time,
    redis_outage,
)
from corelab.lessons.chat.claims import chat_outcome, outage_summary

# %%
runs = bench(["sticky", "pubsub"], workers=2, scenario="chat", seconds=pick(20, 8), redis=True)

# %%
delivery(runs).drop(columns=["run"])

# %%
fig = plot_delivery(runs)

# %%
fig = plot_delivery_latency(runs)

# %%
fig = plot_connections_per_worker(runs)

# %% [markdown]
# The claim, in this run's numbers: per variant, which messages reached which room-mates.

# %%
chat_outcome(runs)

# %% [markdown]
# ## Faults: Redis goes away under load
#
# `redis_outage` runs the same load on pubsub with a Redis it started itself, stops that Redis
# part-way through and starts it again on the same port. Losses are drawn at the second their
# message was sent.

# %%
outage = redis_outage(workers=2, seconds=pick(30, 14), down_at=pick(10, 4), down_for=pick(6, 3))

# %%
fig = plot_delivery_over_time(outage)

# %%
delivery(outage).drop(columns=["run"])

# %% [markdown]
# The outage's claim, in this run's numbers:

# %%
outage_summary(outage)

# %% [markdown]
# **What to notice.** Sticky alone delivers to the sender's worker only; with the adapter
# every recipient gets every message, for a Redis round trip more latency. While Redis is away the
# workers keep serving and deliver locally; what is published meanwhile is simply gone (pub/sub
# keeps no backlog), and cross-worker delivery comes back a few seconds after Redis does:
# python-socketio's listener retries with a growing back-off (1, 2, 4 ... s). If every message
# must arrive, the application needs acknowledgements and resends, or a log (Redis Streams, as
# Socket.IO's own Redis Streams adapter uses) instead of pub/sub.
#
# **Try it.** Start `python -m servers.pubsub --workers 2` and open http://127.0.0.1:8000/chat in
# two tabs on different workers: messages now appear in both, each showing the worker that
# delivered it.
