# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 4. Restart without downtime
#
# **Claim.** A fork cluster can replace all of its workers under load without losing a request:
# a *rolling restart* (SIGHUP or SIGUSR2 to the primary, as gunicorn and PM2 do) starts a new
# worker, waits until it serves, and only then tells an old one to stop taking connections and
# finish what it has in flight. A *naive restart* (stop everything, start everything) drops
# every request that arrives in the gap. A worker that crashes is replaced at once (PM2's
# backoff starts at 100 ms); only its in-flight requests fail.
#
# **Measurement.** Steady CPU load (`GET /work?ms=10`, 8 users) through a client that never
# retries (`loadtests/cpu_no_retry.py`: Locust's `FastHttpUser` would quietly resend a request
# that met a closed connection, hiding the loss). Half-way through: SIGHUP with `--restart
# rolling`; SIGHUP with `--restart naive`; SIGKILL to one worker; and gunicorn's own SIGHUP on
# the same app for comparison. Below each: which worker pid answered in each second.

# %%
from corelab import pick, plot_restarts, restart_under_load
from corelab.lessons.restarts.claims import restart_claim

runs = restart_under_load(("rolling", "naive", "crash", "gunicorn"), workers=2, seconds=pick(24, 8))

# %%
fig = plot_restarts(runs)

# %%
runs.summary[["label", "requests", "failures", "failed_pct", "errors"]]

# %%
restart_claim(runs)

# %% [markdown]
# **What to notice.**
# - *Rolling*: no failure, no dip to zero; the pids change one at a time. The old worker drains:
#   it stops accepting, answers the requests still arriving on its keep-alive connections with
#   `Connection: close` so that the clients reconnect elsewhere, and exits when they are gone.
# - *Naive*: while no worker listens, connections are refused; every such request is a failure.
# - *Crash*: a SIGKILL loses only what that worker had in flight, and a new worker is serving
#   about 0.1 s later. But look at the timeline: the keep-alive clients of the dead worker
#   reconnected at once, to the survivor, before the replacement was up, and they stay there
#   (connections, not requests, are balanced: notebook 3). One core idles until clients reconnect.
# - *gunicorn*: HUP starts the new workers, then stops the old ones gracefully; aiohttp's worker
#   closes its idle keep-alive connections when it stops, so whether a client meets a closed
#   socket is a matter of timing: count the failures above.
