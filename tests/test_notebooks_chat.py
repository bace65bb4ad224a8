"""Notebooks 10 and 11 run end to end in QUICK mode and show what each variant does to a chat."""

from __future__ import annotations

import re

import pytest

from tests.notebooks import execute_notebook, figures, printed

pytestmark = pytest.mark.notebook


def _ratio(pattern: str, text: str) -> float:
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return float(match.group(1))


def test_10_sticky_sessions_cluster_fails_handshakes_sticky_loses_cross_worker() -> None:
    nb = execute_notebook("10-sticky-sessions.ipynb")
    assert figures(nb) >= 3
    text = printed(nb)
    assert _ratio(r"Plain cluster: \d+ of \d+ Socket.IO handshakes failed \((\d+)%\)", text) > 0, text
    assert _ratio(r"Sticky: \d+ of \d+ handshakes failed \((\d+)%\)", text) == 0, text
    assert _ratio(r"on the sender's worker: \d+ of \d+ delivered \((\d+)%\)", text) == 100, text
    assert _ratio(r"on the other worker: \d+ of [1-9]\d* delivered \((\d+)%\)", text) == 0, text


def test_11_pubsub_delivers_everything_and_survives_a_redis_outage() -> None:
    nb = execute_notebook("11-pubsub-adapter.ipynb")
    assert figures(nb) >= 4
    text = printed(nb)
    assert _ratio(r"pubsub x2 \(sticky\): \d+ of [1-9]\d* deliveries arrived \(([\d.]+)%\)", text) == 100.0, text
    assert _ratio(r"sticky x2 \(sticky\): .*across workers \d+ of [1-9]\d* \(([\d.]+)%\)", text) == 0.0, text
    assert re.search(r"same-worker deliveries went on: [1-9]\d* delivered, 0 lost", text), text
    assert _ratio(r"Lost across workers, at most once: (\d+) of", text) > 0, text
    assert "cross-worker delivery resumed at" in text, text
