"""Notebook 09 runs end to end in QUICK mode and shows in-memory state over-admitting, Redis exact."""

from __future__ import annotations

import re

import pytest

from tests.notebooks import execute_notebook, figures, printed

pytestmark = pytest.mark.notebook


def test_09_shared_state_memory_over_admits_and_redis_is_exact() -> None:
    nb = execute_notebook("09-shared-state.ipynb")
    assert figures(nb) >= 1
    text = printed(nb)
    memory = float(re.search(r"State in memory, 2 workers: [\d.]+ admitted .*?\(([\d.]+)x the limit", text).group(1))
    redis = float(re.search(r"State in Redis, 2 workers: [\d.]+ admitted .*?\(([\d.]+)x the limit", text).group(1))
    assert memory > 1.3, text  # about 2x; rr spreads each client over both workers
    assert redis == 1.0, text
    assert re.search(r"Visit counter in Redis: .* \(worst \+0%\)", text), text
    assert "Redis: redis " in text  # bench said which Redis it used
