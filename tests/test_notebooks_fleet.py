"""Notebook 12 (beyond one machine) runs end to end in QUICK mode and shows what it claims.

The claims are read from the result objects the notebook displayed (``tests.notebooks.claim``:
their fields, stored beside their sentences), never from printed English; the margins are wide,
for a noisy 2-core machine where the hosts share the cores.
"""

from __future__ import annotations

import pytest

from tests.notebooks import claim, execute_notebook, figures

pytestmark = [pytest.mark.notebook, pytest.mark.timeout(600)]


def test_12_beyond_one_machine_spreads_sticks_delivers_routes_around_and_prices_the_balancer() -> None:
    nb = execute_notebook("12-beyond-one-machine.ipynb", timeout=300)
    assert figures(nb) >= 4  # spread, delivery, failover, the balancer's price

    # Round robin spreads every client over both hosts; the cookie keeps each on one, and both get clients.
    spread = claim(nb, "FleetSpread")
    rr, cookie = spread["round_robin"], spread["cookie"]
    assert rr["lb"] == "round_robin" and rr["hosts"] == 2 and rr["min_hosts_per_client"] == 2, rr
    assert rr["min_host_share"] >= 0.3, rr
    assert cookie["lb"] == "cookie" and cookie["hosts"] == 2 and cookie["max_hosts_per_client"] == 1, cookie
    assert cookie["min_requests_per_host"] > 0, cookie

    # Socket.IO across hosts: handshakes fail without stickiness at the load balancer, none with the cookie.
    socketio = claim(nb, "SocketIOAcrossHosts")
    rr, cookie = socketio["round_robin"], socketio["cookie"]
    assert rr["handshakes_failed"] > 0, rr
    assert cookie["handshakes_failed"] == 0 and cookie["handshakes"] > 0, cookie
    assert cookie["other_host_expected"] > 0, cookie
    assert cookie["other_host_delivered"] == cookie["other_host_expected"], cookie

    # A host killed: with active checks only, requests fail until the next check (every 1 s) takes it
    # out; with passive checks and retries, (almost) none fail. A new host gets requests within a check.
    by_checks = claim(nb, "FleetFailover")["by_checks"]
    active, retries = by_checks["active only"], by_checks["active + passive + retries"]
    assert active["lost"] > 0 and active["routed_around_after_s"] < 3.0, active
    assert retries["lost"] <= 2 and retries["lost"] < active["lost"], retries
    for case in by_checks.values():
        assert case["requests"] > 100, case
        assert case["back_after_s"] is not None and case["back_after_s"] < 3.0, case

    # The balancer's price: some CPU per request and some latency (the hosts' cores are its cores too).
    cost = claim(nb, "BalancerCost")
    assert cost["caddy_cpu_ms_per_1000"] > 0 and cost["lb_p50_ms"] > cost["direct_p50_ms"], cost
