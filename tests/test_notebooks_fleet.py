"""Notebook 12 (beyond one machine) runs end to end in QUICK mode and shows what it claims.

The claims are read back from what the notebook measured and stored (results/fleet-*/), not from
its prose; the margins are wide, for a noisy 2-core machine where the hosts share the cores.
"""

from __future__ import annotations

import pytest

from corelab import delivery, handshakes, load_runs
from corelab.lessons.fleet import load_fleet
from plumbing.procs import PROJECT_ROOT
from tests.notebooks import execute_notebook, figures

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(600)]


def test_12_beyond_one_machine_spreads_sticks_delivers_routes_around_and_prices_the_balancer() -> None:
    stored = set((PROJECT_ROOT / "results").glob("fleet-*"))
    nb = execute_notebook("12-beyond-one-machine.ipynb", timeout=300)
    assert figures(nb) >= 4  # spread, delivery, failover, the balancer's price
    (folder,) = set((PROJECT_ROOT / "results").glob("fleet-*")) - stored
    fleet = load_fleet(folder)

    # Round robin spreads every client over both hosts; the cookie keeps each on one, and both get clients.
    rr, cookie = fleet.spread
    assert rr.lb == "round_robin" and min(rr.hosts_per_client) == 2, rr
    counts = sorted(rr.requests_per_host.values())
    assert len(counts) == 2 and counts[0] >= 0.3 * sum(counts), rr
    assert cookie.lb == "cookie" and max(cookie.hosts_per_client) == 1, cookie
    assert all(n > 0 for n in cookie.requests_per_host.values()), cookie

    # Socket.IO across hosts: handshakes fail without stickiness at the load balancer, none with the cookie.
    runs = load_runs(folder / "chat")
    shakes = handshakes(runs).set_index("label")
    rr_label, cookie_label = runs.summary["label"]
    assert shakes.loc[rr_label, "failed"] > 0, shakes
    assert shakes.loc[cookie_label, "failed"] == 0 and shakes.loc[cookie_label, "attempts"] > 0, shakes

    other_host = delivery(runs).set_index(["label", "recipients"]).loc[(cookie_label, "other worker")]
    assert other_host.expected > 0 and other_host.delivered == other_host.expected, other_host

    # A host killed: with active checks only, requests fail until the next check (every 1 s) takes it
    # out; with passive checks and retries, (almost) none fail. A new host gets requests within a check.
    by_checks = {f.checks: f for f in fleet.failover}
    active, retries = by_checks["active only"], by_checks["active + passive + retries"]
    assert active.lost > 0 and active.routed_around_after_s < 3.0, active
    assert retries.lost <= 2 and retries.lost < active.lost, retries
    for f in fleet.failover:
        assert f.requests > 100, f
        assert f.back_after_s is not None and f.back_after_s < 3.0, f

    # The balancer's price: some CPU per request and some latency (the hosts' cores are its cores too).
    (cost,) = fleet.cost
    assert cost.caddy_cpu_ms_per_1000 > 0 and cost.lb_p50_ms > cost.direct_p50_ms, cost
