"""Notebooks 03 and 04 (cluster lifecycle) run end to end in QUICK mode and show what they claim.

Each claim is read from the object the notebook displayed (tests.notebooks.claim), never from
printed English.
"""

from __future__ import annotations

import pytest

from corelab.lessons.connections.bursts import BASELINE, load_burst
from plumbing.procs import PROJECT_ROOT
from tests.notebooks import claim, execute_notebook, figures

pytestmark = pytest.mark.notebook


def test_03_who_gets_the_connection_runs_and_rr_spreads_connections() -> None:
    stored = set((PROJECT_ROOT / "results").glob("burst-*"))
    nb = execute_notebook("03-who-gets-the-connection.ipynb")
    assert figures(nb) >= 3  # the bursts, the balance, the primary's price
    # The burst: its figures per target, as the notebook showed them.
    bursts = claim(nb, "BurstResult")
    targets = bursts["targets"]
    assert {"shared", "reuseport", "rr", "gunicorn", BASELINE} <= set(targets)
    # ... and as the run stored them: one row per trial and worker in the tidy table.
    (folder,) = set((PROJECT_ROOT / "results").glob("burst-*")) - stored
    workers = load_burst(folder).workers
    for name, fig in targets.items():
        assert fig["trials"] == 3, name  # QUICK
        assert fig["workers"] == (1 if name == BASELINE else 2), name
        assert fig["min_rps"] > 0, name
        assert len(workers[workers["target"] == name]) == fig["trials"] * fig["workers"], name
    assert targets[bursts["default_policy"]]["idle_trials"] == 0  # the default leaves no worker idle
    assert targets[BASELINE]["min_ratio"] is None and targets["rr"]["min_ratio"] is not None
    # The balance: every policy under both kinds of client.
    balance = claim(nb, "ConnectionBalance")
    for policy in ("shared", "reuseport", "rr"):
        for clients in ("keepalive", "short"):
            assert f"{policy}/{clients}" in balance["requests_max_min"], balance
    # Round-robin with a new connection per request: connections alternate, by construction.
    assert balance["connections_max_min"]["rr/short"] <= 1.2, balance
    # One keep-alive client: all its requests on one worker, whatever the policy (100% when rounded).
    assert balance["one_client_policy"] == "rr"
    assert balance["one_client_top_share"] >= 0.995, balance
    # The price of balance: rr's primary works for every connection, shared's for none.
    cost = claim(nb, "PrimaryCostResult")["us_per_connection"]
    assert cost["rr"] > 4 * cost["shared"] + 5, cost


def test_04_restart_without_downtime_runs_and_only_rolling_loses_nothing() -> None:
    nb = execute_notebook("04-restart-without-downtime.ipynb")
    assert figures(nb) >= 1
    restarts = claim(nb, "RestartComparison")
    assert restarts["kinds"] == ["rolling", "naive", "crash", "gunicorn"], restarts
    assert restarts["rolling_failures"] == 0 and restarts["rolling_requests"] > 200, restarts
    assert restarts["naive_failures"] > 0, restarts
    # A worker SIGKILLed and gunicorn's SIGHUP: measured and shown, whatever they lost.
    for kind in ("crash", "gunicorn"):
        assert restarts[f"{kind}_requests"] > 0 and restarts[f"{kind}_failures"] >= 0, restarts
