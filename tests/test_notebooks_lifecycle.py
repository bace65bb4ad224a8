"""Notebooks 03 and 04 (cluster lifecycle) run end to end in QUICK mode and show what they claim."""

from __future__ import annotations

import re

import pytest

from corelab.lessons.burst import BASELINE, load_burst
from corelab.lessons.primary_cost import load_primary_cost
from plumbing.procs import PROJECT_ROOT
from tests.notebooks import execute_notebook, figures, printed

pytestmark = pytest.mark.notebook


def test_03_who_gets_the_connection_runs_and_rr_spreads_connections() -> None:
    stored = set((PROJECT_ROOT / "results").glob("burst-*"))
    stored_cost = set((PROJECT_ROOT / "results").glob("primary-cost-*"))
    nb = execute_notebook("03-who-gets-the-connection.ipynb")
    assert figures(nb) >= 3  # the bursts, the balance, the primary's price
    # The burst: read back what the notebook measured and stored (its figures are fields, not prose).
    (folder,) = set((PROJECT_ROOT / "results").glob("burst-*")) - stored
    bursts = load_burst(folder)
    assert {"shared", "reuseport", "rr", "gunicorn", BASELINE} <= set(bursts.figures)
    for name, fig in bursts.figures.items():
        assert fig.trials == 3, name  # QUICK
        assert fig.workers == (1 if name == BASELINE else 2), name
        assert fig.min_rps > 0, name
        assert len(bursts.workers[bursts.workers["target"] == name]) == fig.trials * fig.workers, name
    assert bursts.figures[bursts.default_policy].idle_trials == 0  # the default leaves no worker idle
    assert bursts.figures[BASELINE].min_ratio is None and bursts.figures["rr"].min_ratio is not None
    text = printed(nb)
    for policy in ("shared", "reuseport", "rr"):
        for clients in ("keepalive", "short"):
            assert re.search(rf"{policy:>9} / {clients:<9}: busiest/least busy worker", text), text
    # Round-robin with a new connection per request: connections alternate, by construction.
    rr_short = float(re.search(r"rr / short\s*: busiest/least busy worker = [\d.inf]+ \(requests\), ([\d.]+)", text)[1])
    assert rr_short <= 1.2, text
    # The price of balance: rr's primary works for every connection, shared's for none.
    (cost_folder,) = set((PROJECT_ROOT / "results").glob("primary-cost-*")) - stored_cost
    cost = load_primary_cost(cost_folder)
    assert cost.get("rr").us_per_connection > 4 * cost.get("shared").us_per_connection + 5
    # One keep-alive client: all its requests on one worker, whatever the policy.
    assert "one keep-alive client under rr: one worker served 100% of its requests" in text


def test_04_restart_without_downtime_runs_and_only_rolling_loses_nothing() -> None:
    nb = execute_notebook("04-restart-without-downtime.ipynb")
    assert figures(nb) >= 1
    text = printed(nb)
    rolling = re.search(r"rolling restart \(SIGHUP\): (\d+) of (\d+) requests failed", text)
    naive = re.search(r"naive restart: stop all, start all: (\d+) of (\d+) requests failed", text)
    assert rolling and naive, text
    assert int(rolling[1]) == 0 and int(rolling[2]) > 200, text
    assert int(naive[1]) > 0, text
    assert re.search(r"a worker SIGKILLed: \d+ of \d+ requests failed", text)
    assert re.search(r"gunicorn's SIGHUP: \d+ of \d+ requests failed", text)
