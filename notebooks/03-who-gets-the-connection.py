# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Who gets the connection
#
# **Claim.** When several processes accept on one socket, the operating system decides which one
# gets each new connection, and it does not share them out evenly: Node's documentation reports
# over 70% of the connections landing on two of eight processes. Worse, when many clients connect
# at the same moment, one worker can get *all* of them and another core idles for as long as
# those keep-alive connections last. That is why Node made round-robin (the primary accepts and
# hands connections out in turn) its default on Linux, and why it is this kit's default too
# (`python -m servers.cluster` with no `--policy` is `rr`). But every policy places
# *connections*, not requests: a keep-alive client stays on the worker it first reached, however
# many requests it sends.
#
# **Measurement, part 1: a burst.** What a class meets when everyone types
# `locust ... -u 20 -r 20`: 20 keep-alive clients (`loadtests/burst.py`) connect at the same
# moment, then each sends `GET /work?ms=10` (10 ms of CPU) as fast as it is answered, so a core
# with no connection shows as lost throughput. Repeated as bursts (a new Locust process each, so
# fresh connections each time) against the cluster with each policy (`rr`: round-robin from the
# primary; `shared`: the workers accept on one inherited socket, as gunicorn and uvicorn do;
# `shared-one`, where the cluster has it: the same socket, but a worker takes one connection per
# wakeup; `reuseport`: one `SO_REUSEPORT` socket per worker, hashed by the kernel), against
# gunicorn serving the same app, and against one process as the baseline. `reuseport` balances on
# Linux only: on macOS and the BSDs SO_REUSEPORT does not balance (the last socket bound gets every
# connection), and the cluster warns when it starts it there.

# %%
from corelab import QUICK, balance, pick, plot_balance, plot_burst
from corelab.lessons.connections.bursts import burst
from corelab.lessons.connections.per_worker import balance_claim

bursts = burst(trials=pick(10, 3), clients=20, seconds=pick(3, 2))

# %%
fig = plot_burst(bursts)

# %%
bursts

# %% [markdown]
# **What to notice.** Each row of a grid is one burst, each column one worker, each cell the
# connections that worker got; a red cell is a worker that got none, and the red bar beside it is
# that burst's throughput: about one process's worth (the dashed line), because one core did all
# the work. Why does a shared socket do this? Every idle worker sleeps in `epoll` (Linux's; on
# macOS and the BSDs asyncio uses `kqueue`, which wakes waiters its own way) on the same
# socket; the kernel wakes one (or several), and asyncio's accept loop then accepts *every*
# connection waiting in the queue, up to its backlog, before it serves anything. The first worker
# awake *can* drain the queue; how often it does depends on how the kernel schedules the workers
# beside Locust, so on a quiet machine it may be rare (run it again, or with more bursts), and
# lopsided bursts (19 to 1) are common. gunicorn's aiohttp worker accepts the same way.
# Round-robin decides in the primary, one connection at a time, so the timing of the clients
# cannot matter: 10 and 10, every time. Why is 19 to 1 as fast as 10 and 10? Each client sends
# its next request the moment the last is answered, so one connection is enough to keep a worker
# busy; only a worker with *no* connection costs throughput here. Clients that pause between
# requests would feel 19 to 1 as one overloaded worker beside an idle one.
# `python -m corelab lifecycle burst` runs 20 bursts per policy and reports the figures.
#
# **Measurement, part 2: clients that arrive over two seconds**, under each policy, that either
# keep one connection alive (`loadtests/keepalive.py`) or open a new connection per request
# (`loadtests/short_connections.py`). Each request burns 5 ms of CPU; each user sends 10 per
# second, below what the two workers can serve, so that a worker's share of the requests
# follows its share of the connections rather than how much CPU it got beside Locust.

# %%
result = balance(("shared", "reuseport", "rr"), ("keepalive", "short"), users=20, seconds=pick(15, 3))

# %%
fig = plot_balance(result)

# %%
result.summary

# %% [markdown]
# Now the extreme case of "connections, not requests": **one** keep-alive client, round-robin
# policy, two workers. Round-robin hands its single connection to one worker, and every request
# follows it there.

# %%
one = balance(("rr",), ("keepalive",), users=1, seconds=pick(8, 3))
one.shares[["policy", "clients", "pid", "requests", "connections", "request_share"]]

# %%
balance_claim(result, one, users=20)

# %% [markdown]
# **What to notice.**
# - *New connection per request*: round-robin gives each worker the same count, by construction.
#   With `shared` the kernel picks whichever worker is waiting in `accept()`; with users that
#   start over two seconds on a small machine the result is often close to even, but
#   nothing makes it so, and part 1 showed what a burst does. `reuseport` hashes the client's
#   address and port (Linux): even on average, uneven for few clients; on macOS one worker gets all.
# - *Keep-alive*: the connection count is fixed when the users connect; after that, requests
#   follow connections. Even connections give even requests only when every client sends at the
#   same rate, and a single client is served by a single worker whatever the policy.
# - Push the users to saturation (`CORELAB_RATE=1000`) and even connections no longer give even
#   requests: Locust runs on the same cores, and the worker that shares a core with it serves
#   less (about 13% less on the 2-core machine these notebooks were written on; on many cores one
#   worker of many shares with Locust, so the gap shrinks).
#
# Notebook 4 shows what a restart does to these connections.

# %% [markdown]
# ## Part 3: the price of balance
#
# `rr` (and `sticky`, which also peeks at the request line) passes every new connection through
# the primary: an `accept()` and a descriptor sent over a Unix socket. `shared`, `shared-one` and
# `reuseport` let the kernel give it straight to a worker. One Locust process opens a new
# connection per `GET /` as fast as it can, against each policy and against Node's own cluster,
# and psutil reads the primary's CPU time (the load generator is the limit here: the figure is CPU
# per connection, not capacity). Keep-alive clients pay it once per connection, not per request.

# %%
from corelab import plot_primary_cost
from corelab.lessons.connections.primary_cost_bench import run_primary_cost

cost = run_primary_cost(policies=pick(None, ("shared", "rr")), node=not QUICK)
cost

# %%
fig = plot_primary_cost(cost)
