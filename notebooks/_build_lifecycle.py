"""Build notebooks 03 and 04 (cluster lifecycle) without outputs: python notebooks/_build_lifecycle.py [03|04 ...]"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

NB03 = [
    new_markdown_cell(
        """# 3. Who gets the connection

**Claim.** When several processes accept on one socket, the operating system decides which one
gets each new connection, and it does not share them out evenly: Node's documentation reports
over 70% of the connections landing on two of eight processes. Worse, when many clients connect
at the same moment, one worker can get *all* of them and another core idles for as long as
those keep-alive connections last. That is why Node made round-robin (the primary accepts and
hands connections out in turn) its default on Linux, and why it is this kit's default too
(`python -m servers.cluster` with no `--policy` is `rr`). But every policy places
*connections*, not requests: a keep-alive client stays on the worker it first reached, however
many requests it sends.

**Measurement, part 1: a burst.** What a class meets when everyone types
`locust ... -u 20 -r 20`: 20 keep-alive clients (`loadtests/burst.py`) connect at the same
moment, then each sends `GET /work?ms=10` (10 ms of CPU) as fast as it is answered, so a core
with no connection shows as lost throughput. Repeated as bursts (a new Locust process each, so
fresh connections each time) against the cluster with each policy (`rr`: round-robin from the
primary; `shared`: the workers accept on one inherited socket, as gunicorn and uvicorn do;
`shared-one`, where the cluster has it: the same socket, but a worker takes one connection per
wakeup; `reuseport`: one `SO_REUSEPORT` socket per worker, hashed by the kernel), against
gunicorn serving the same app, and against one process as the baseline."""
    ),
    new_code_cell(
        """from corelab import balance, pick, plot_balance
from corelab.burst import burst
from corelab.plots import plot_burst

bursts = burst(trials=pick(10, 3), clients=20, seconds=pick(3, 2))"""
    ),
    new_code_cell("plot_burst(bursts);"),
    new_code_cell(
        """print(bursts.sentence())
print(f"Locust used at most {bursts.trials['locust_cpu_pct'].max():.0f}% of a core (generator-bound above 80%)")"""
    ),
    new_markdown_cell(
        """**What to notice.** Each row of a grid is one burst, each column one worker, each cell the
connections that worker got; a red cell is a worker that got none, and the red bar beside it is
that burst's throughput: about one process's worth (the dashed line), because one core did all
the work. Why does a shared socket do this? Every idle worker sleeps in `epoll` on the same
socket; the kernel wakes one (or several), and asyncio's accept loop then accepts *every*
connection waiting in the queue, up to its backlog, before it serves anything. The first worker
awake *can* drain the queue; how often it does depends on how the kernel schedules the workers
beside Locust, so on a quiet machine it may be rare (run it again, or with more bursts), and
lopsided bursts (19 to 1) are common. gunicorn's aiohttp worker accepts the same way.
Round-robin decides in the primary, one connection at a time, so the timing of the clients
cannot matter: 10 and 10, every time. Why is 19 to 1 as fast as 10 and 10? Each client sends
its next request the moment the last is answered, so one connection is enough to keep a worker
busy; only a worker with *no* connection costs throughput here. Clients that pause between
requests would feel 19 to 1 as one overloaded worker beside an idle one.
`python -m corelab.lifecycle_bench burst` runs 20 bursts per policy and reports the figures.

**Measurement, part 2: clients that arrive over two seconds**, under each policy, that either
keep one connection alive (`loadtests/keepalive.py`) or open a new connection per request
(`loadtests/short_connections.py`). Each request burns 5 ms of CPU; each user sends 10 per
second, below what the two workers can serve, so that a worker's share of the requests
follows its share of the connections rather than how much CPU it got beside Locust."""
    ),
    new_code_cell(
        """result = balance(("shared", "reuseport", "rr"), ("keepalive", "short"), users=20, seconds=pick(15, 3))"""
    ),
    new_code_cell("plot_balance(result);"),
    new_code_cell("result.summary"),
    new_markdown_cell(
        """Now the extreme case of "connections, not requests": **one** keep-alive client, round-robin
policy, two workers. Round-robin hands its single connection to one worker, and every request
follows it there."""
    ),
    new_code_cell(
        """one = balance(("rr",), ("keepalive",), users=1, seconds=pick(8, 3))
one.shares[["policy", "clients", "pid", "requests", "connections", "request_share"]]"""
    ),
    new_code_cell(
        """s = result.summary.set_index(["policy", "clients"])
for (policy, clients), row in s.iterrows():
    print(
        f"{policy:>9} / {clients:<9}: busiest/least busy worker = {row.requests_max_min:.2f} (requests), "
        f"{row.connections_max_min:.2f} (connections), {row.rps:.0f} req/s, {row.failures} failed"
    )
keep = result.shares[result.shares["clients"] == "keepalive"].groupby("policy")["connections"].sum()
print(f"keep-alive: {keep.max()} connections at most per run for 20 users ({keep.max() - 20} reconnections)")
top = one.shares["request_share"].max()
print(f"one keep-alive client under rr: one worker served {top:.0%} of its requests")"""
    ),
    new_markdown_cell(
        """**What to notice.**
- *New connection per request*: round-robin gives each worker the same count, by construction.
  With `shared` the kernel picks whichever worker is waiting in `accept()`; with users that
  start over two seconds on this small, 2-core machine the result is often close to even, but
  nothing makes it so, and part 1 showed what a burst does. `reuseport` hashes the client's
  address and port: even on average, uneven for few clients.
- *Keep-alive*: the connection count is fixed when the users connect; after that, requests
  follow connections. Even connections give even requests only when every client sends at the
  same rate, and a single client is served by a single worker whatever the policy.
- Push the users to saturation (`CORELAB_RATE=1000`) and even connections no longer give even
  requests: Locust runs on the same two cores, and the worker that shares a core with it
  serves less (about 13% less on the 2-core machine these notebooks were written on).

Notebook 4 shows what a restart does to these connections."""
    ),
]

NB04 = [
    new_markdown_cell(
        """# 4. Restart without downtime

**Claim.** A fork cluster can replace all of its workers under load without losing a request:
a *rolling restart* (SIGHUP or SIGUSR2 to the primary, as gunicorn and PM2 do) starts a new
worker, waits until it serves, and only then tells an old one to stop taking connections and
finish what it has in flight. A *naive restart* (stop everything, start everything) drops
every request that arrives in the gap. A worker that crashes is replaced at once (PM2's
backoff starts at 100 ms); only its in-flight requests fail.

**Measurement.** Steady CPU load (`GET /work?ms=10`, 8 users) through a client that never
retries (`loadtests/cpu_no_retry.py`: Locust's `FastHttpUser` would quietly resend a request
that met a closed connection, hiding the loss). Half-way through: SIGHUP with `--restart
rolling`; SIGHUP with `--restart naive`; SIGKILL to one worker; and gunicorn's own SIGHUP on
the same app for comparison. Below each: which worker pid answered in each second."""
    ),
    new_code_cell(
        """from corelab import pick, plot_restarts, restart_under_load

runs = restart_under_load(("rolling", "naive", "crash", "gunicorn"), workers=2, seconds=pick(24, 8))"""
    ),
    new_code_cell("plot_restarts(runs);"),
    new_code_cell('runs.summary[["label", "requests", "failures", "failed_pct", "errors"]]'),
    new_code_cell(
        """for row in runs.summary.itertuples():
    event = runs.events[runs.events["run"] == row.run].iloc[0]
    timeline = runs.timeline[runs.timeline["run"] == row.run]
    before = sorted(timeline[timeline["t"] < event.t - 1]["pid"].unique())
    last = timeline["t"].max()
    after = sorted(timeline[timeline["t"] >= last - 1]["pid"].unique())
    print(
        f"{row.label}: {row.failures} of {row.requests} requests failed; "
        f"pids serving before {list(before)}, at the end {list(after)}"
    )"""
    ),
    new_markdown_cell(
        """**What to notice.**
- *Rolling*: no failure, no dip to zero; the pids change one at a time. The old worker drains:
  it stops accepting, answers the requests still arriving on its keep-alive connections with
  `Connection: close` so that the clients reconnect elsewhere, and exits when they are gone.
- *Naive*: while no worker listens, connections are refused; every such request is a failure.
- *Crash*: a SIGKILL loses only what that worker had in flight, and a new worker is serving
  about 0.1 s later. But look at the timeline: the keep-alive clients of the dead worker
  reconnected at once, to the survivor, before the replacement was up, and they stay there
  (connections, not requests, are balanced: notebook 3). One core idles until clients reconnect.
- *gunicorn*: HUP starts the new workers, then stops the old ones gracefully; aiohttp's worker
  closes its idle keep-alive connections when it stops, so whether a client meets a closed
  socket is a matter of timing: count the failures above."""
    ),
]


def write(name: str, cells: list) -> None:
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, HERE / name)


NOTEBOOKS = {"03": ("03-who-gets-the-connection.ipynb", NB03), "04": ("04-restart-without-downtime.ipynb", NB04)}

if __name__ == "__main__":
    # Only the notebooks named (default: all): rebuilding one leaves the other's cell ids alone.
    for key in sys.argv[1:] or NOTEBOOKS:
        write(*NOTEBOOKS[key])
