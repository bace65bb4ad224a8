"""A burst of keep-alive clients connecting at once: the cluster's default policy gives every worker some.

Real processes: the cluster started with no --policy (its default), and Locust as a subprocess
whose users all start at the same moment (loadtests/burst.py, ``-u N -r N``), a new Locust
process per burst so that each burst opens fresh connections. With ``--policy shared`` the same
check fails often (the first worker woken accepts the whole queue): it is a real check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from corelab.lessons.connections.bursts import run_trials, serving_workers

# Ten short bursts (about 3 s each, most of it Locust starting): round-robin passes every time by
# construction, while a shared socket, which left a worker idle in about 1 burst of 20 here, fails
# this test in about a third of its runs.
BURSTS = 10
CLIENTS = 16


def test_every_burst_gives_every_worker_connections_under_the_default_policy(serve: Callable, tmp_path: Path) -> None:
    server = serve("cluster", "--workers", "2")  # no --policy: what a student gets
    pids = serving_workers(server.url, server.pid, 2)
    trials, workers = run_trials(server.url, pids, trials=BURSTS, clients=CLIENTS, seconds=1, root=tmp_path)

    assert len(trials) == BURSTS and len(workers) == BURSTS * 2
    # Every client connected and was served; none failed.
    assert (trials["connections"] >= CLIENTS).all(), trials
    assert (trials["failures"] == 0).all(), trials
    assert (workers.groupby("trial")["responses"].sum() > CLIENTS).all(), workers
    # The claim: in every burst, every worker got connections.
    idle = workers[workers["connections"] == 0]
    assert idle.empty, f"bursts that left a worker without a connection:\n{workers}"
    assert not trials["idle"].any()
