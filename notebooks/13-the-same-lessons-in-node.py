# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 13. The same lessons in Node
#
# **Claim.** Every idea in notebooks 01-11 comes from articles about Node.js: `cluster.fork()` per
# core, round-robin from the primary, restarting workers one at a time, `worker_threads` for CPU
# work, PM2's cluster mode, Socket.IO with `@socket.io/sticky` and the Redis adapter. Here the
# articles' own Node code (`servers/node/`, one small file per idea) runs beside the Python port
# under the same Locust scenarios, the same sampler and the same figures, and each section says
# which runtime did better, with this run's numbers. A notebook of its own rather than a Node
# column in each: notebooks 01-12 stay short enough for a live class, and whoever arrives from the
# articles finds the whole comparison in one place (`python -m corelab node-vs-python` prints the
# same table).
#
# **Measurement.** Each section is one lesson's own measurement with the Node variants as more
# targets: `node-single`, `node-cluster` (Node's `cluster`, `NODE_CLUSTER_SCHED_POLICY` rr or
# none), `node-pm2` (`pm2-runtime`) and `node-sticky`. A request's 10 ms of work is burned by a
# CPU clock in both runtimes, so it costs the same CPU in each (docs/node.md: which clock, and
# how that was measured).

# %%
import corelab.node_vs_python as both
from corelab import (
    plot_burst,
    plot_delivery,
    plot_primary_cost,
    plot_probe_latency,
    plot_restarts,
    plot_throughput_by_variant,
)

print(both.runtime_line())

# %% [markdown]
# ## One process, one core; a cluster, every core
# Node's event loop, like asyncio's, runs JavaScript on one thread: one process, one core.

# %%
runs = both.throughput()
fig = plot_throughput_by_variant(runs)

# %%
both.beside_throughput(runs)

# %% [markdown]
# ## Who gets the connection: rr vs the kernel's choice
# Bursts of simultaneous clients: how often one left a worker with nothing to do (notebook 03).

# %%
shares = both.bursts()
fig = plot_burst(shares)

# %%
both.beside_bursts(shares)

# %% [markdown]
# ## The primary's price for round-robin
# In both, every connection passes through the primary, which accepts it and hands the socket over.

# %%
cost = both.primary()
fig = plot_primary_cost(cost)

# %%
both.beside_primary(cost)

# %% [markdown]
# ## Restarting under load
# Two restarts each, under a client that never retries: the kit's naive and rolling restarts, the
# articles' one-worker-at-a-time restart in `cluster.js`, and `pm2 reload`. Both Node restarts go
# one worker at a time; how a worker drains is what differs. The articles' worker closes the
# server and its idle keep-alive connections (`server.close()`), so a client that sends its next
# request on one at that instant meets a reset; the kit's worker answers every request still
# coming on an open connection with `Connection: close`, and the client reconnects elsewhere.

# %%
restart = both.restarts()
fig = plot_restarts(restart)

# %%
both.beside_restarts(restart)

# %% [markdown]
# ## A blocked loop, and the way out in each runtime
# 50 ms burns beside a `/health` probe: on the loop, then in a process pool (Python) or a
# `worker_threads` pool (Node, whose threads have no GIL to share).

# %%
loop = both.blocked()
fig = plot_probe_latency(loop)

# %%
both.beside_blocked(loop)

# %% [markdown]
# ## Socket.IO across workers
# Without sticky sessions a long-polling handshake lands on a worker that never saw it; with
# sticky sessions and the Redis adapter every message reaches room-mates on the other workers.

# %%
talk = both.chat()
fig = plot_delivery(talk)

# %%
both.beside_chat(talk)

# %% [markdown]
# ## One table, and the articles' claims checked

# %%
result = both.comparison(runs, shares, cost, restart, loop, talk)
result.table

# %%
result

# %% [markdown]
# **What to notice.** The ideas carry over unchanged: one process uses one core in both runtimes, a
# cluster uses them all, a primary that deals connections out keeps every worker busy and pays a
# few microseconds per connection for it, one-at-a-time restarts lose nothing, and a chat needs
# sticky sessions and an adapter in both. The differences are of degree, and the table above says
# which way each went on this machine.
