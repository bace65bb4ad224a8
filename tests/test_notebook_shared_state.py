"""Notebook 09 runs end to end in QUICK mode and shows in-memory state over-admitting, Redis exact."""

from __future__ import annotations

import pytest

from tests.notebooks import claim, execute_notebook, figures

pytestmark = pytest.mark.notebook


def test_09_shared_state_memory_over_admits_and_redis_is_exact() -> None:
    nb = execute_notebook("09-shared-state.ipynb")
    assert figures(nb) >= 1
    state = claim(nb, "SharedState")
    memory, redis = state["memory"], state["redis"]
    assert memory["workers"] == redis["workers"] == 2, state
    assert memory["times_limit"] > 1.3, state  # about 2x; rr spreads each client over both workers
    assert abs(redis["times_limit"] - 1.0) < 0.005, state  # the limit, to two decimals
    assert redis["counter_exact"] and redis["counter_error_pct"] == 0, state
    assert state["redis_source"], state  # bench said which Redis it used
