# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 10. Sticky sessions: every client connects, but messages stay on their worker
#
# **Claim.** A Socket.IO server keeps each session, and each room, in one process's memory. In a
# plain cluster a long-polling client's requests land on whichever worker the next connection
# reaches, and a worker that never saw the handshake answers `400 "Invalid session"`: clients fail
# to connect. Sticky routing (`python -m servers.sticky`) sends every request of a session to the
# worker that holds it, so everyone connects; but a message still reaches only the room members on
# the sender's worker: with N workers, about 1/N of the others.
#
# **Measurement.** Locust users (`loadtests/chat.py`, python-socketio's client on long-polling only,
# as behind a proxy that blocks WebSocket, or before the upgrade) connect, join rooms of 4 and each
# send a message every 0.5 s. Long-polling is what needs sticky sessions: with WebSocket allowed
# too, many sessions never open a second connection, and a short run can show no failed handshake at
# all. A ledger in the load generator knows who was in the room when each message was sent: a
# receipt is a delivery (its latency: send to receipt), a message missing 3 s later is lost. The
# same run against `servers.cluster` (2 workers, `rr` policy) and `servers.sticky` (2 workers).

# %%
from corelab import bench, delivery, handshakes, pick, plot_connections_per_worker, plot_delivery, plot_delivery_latency
from corelab.lessons.chat.claims import chat_outcome

# %%
seconds = pick(20, 8)
polling = [{"transports": "polling"}]
runs = bench(["cluster"], workers=2, policies=["rr"], scenario="chat", params=polling, seconds=seconds)
runs = bench(["sticky"], workers=2, scenario="chat", params=polling, seconds=seconds, out=runs.root)

# %% [markdown]
# Handshakes first: a failed one is a user who never got into the chat (the user tries again).

# %%
handshakes(runs).drop(columns=["run"])

# %%
delivery(runs).drop(columns=["run"])

# %%
fig = plot_delivery(runs)

# %%
fig = plot_connections_per_worker(runs)

# %%
fig = plot_delivery_latency(runs)

# %% [markdown]
# The claim, in this run's numbers: per variant, which users got in, and which messages reached
# which room-mates.

# %%
chat_outcome(runs)

# %% [markdown]
# **What to notice.** The plain cluster loses users before any message is sent: their
# second request reached the other worker, which had never heard of the session. Sticky routing
# fixes that completely: the primary (`servers/cluster/policies/sticky.py`) peeks at the first bytes of
# each new connection, reads the `sid` in the request line, and hands the connection to the worker
# whose pid the sid carries (new sessions go round-robin, hence the even split of connections).
# But each worker still has its own rooms: a message reaches only the members on the sender's
# worker, so about 1/N of all recipients get it, and nobody is told. Notebook 11 adds the Redis
# adapter that fixes this.
#
# A keep-alive connection is routed by its first request only. So that one connection never
# carries two sessions, in sticky mode every `/socket.io/`, `/chat` and `/static/` response closes
# its connection (a WebSocket is one connection for one session anyway), and a request that still
# arrives for another worker's session gets `421 Misdirected Request` instead of a confusing
# `Invalid session`.
#
# **Try it.** Start `python -m servers.sticky --workers 2` and open http://127.0.0.1:8000/chat in
# two tabs until they show different workers: a message typed in one tab does not appear in the
# other. Do the same with `python -m servers.cluster --workers 2 --policy rr`: watch the tabs fail
# to connect, or connect only after retries.
