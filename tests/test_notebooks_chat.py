"""Notebooks 10 and 11 run end to end in QUICK mode and show what each variant does to a chat.

They assert on the claims the notebooks display (``corelab.lessons.chat.claims``), never on printed
English. The thresholds are those the printed percentages were held to: "100%" at the notebook's
rounding is at least 99.5% (99.95% at one decimal), "0%" under 0.5% (0.05%).
"""

from __future__ import annotations

import pytest

from tests.notebooks import claim, execute_notebook, figures

pytestmark = pytest.mark.notebook


def test_10_sticky_sessions_cluster_fails_handshakes_sticky_loses_cross_worker() -> None:
    nb = execute_notebook("10-sticky-sessions.ipynb")
    assert figures(nb) >= 3
    chat = claim(nb, "ChatOutcome")
    cluster, sticky = chat["cluster"], chat["sticky"]
    # A plain cluster loses handshakes: the session's next request reached a worker that never saw it.
    assert cluster["handshakes_failed"] > 0 and cluster["handshakes_failed_ratio"] >= 0.005, cluster
    # Sticky routing: every handshake succeeds ...
    assert sticky["handshakes"] > 0 and sticky["handshakes_failed_ratio"] < 0.005, sticky
    # ... and every message reaches the room-mates on the sender's worker, none on the other worker.
    assert sticky["same_worker_owed"] > 0 and sticky["same_worker_ratio"] >= 0.995, sticky
    assert sticky["other_worker_owed"] > 0 and sticky["other_worker_ratio"] < 0.005, sticky


def test_11_pubsub_delivers_everything_and_survives_a_redis_outage() -> None:
    nb = execute_notebook("11-pubsub-adapter.ipynb")
    assert figures(nb) >= 4
    chat = claim(nb, "ChatOutcome")
    sticky, pubsub = chat["sticky"], chat["pubsub"]
    # With the Redis adapter every room-mate gets every message; sticky alone, none across workers.
    assert pubsub["owed"] > 0 and pubsub["ratio"] >= 0.9995, pubsub
    assert sticky["other_worker_owed"] > 0 and sticky["other_worker_ratio"] < 0.0005, sticky
    outage = claim(nb, "RedisOutage")
    # While Redis is down the sender's worker goes on delivering, and loses nothing ...
    assert outage["same_worker_delivered_during"] > 0 and outage["same_worker_lost_during"] == 0, outage
    # ... while what crosses workers is lost (at most once), and comes back after Redis does.
    assert outage["other_worker_lost"] > 0, outage
    assert outage["resumed_t"] is not None and outage["resumed_t"] > outage["up_t"], outage
