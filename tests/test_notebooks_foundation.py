"""Notebooks 01 and 02 run end to end in QUICK mode and show what they claim."""

from __future__ import annotations

import pytest

from plumbing.cores import usable_core_count
from tests.notebooks import claim, execute_notebook, figures

pytestmark = pytest.mark.notebook


def test_01_one_core_runs_and_shows_one_core() -> None:
    nb = execute_notebook("01-one-core.ipynb")
    assert figures(nb) >= 2
    one = claim(nb, "OneCore")
    assert 50 <= one["server_cpu_pct"] <= 115, one  # one core's worth (100%), never two
    assert one["one_core_limit_rps"] == 100, one  # 10 ms of CPU per request


def test_02_every_core_runs_and_the_cluster_wins() -> None:
    nb = execute_notebook("02-every-core.ipynb")
    assert figures(nb) >= 3
    every = claim(nb, "EveryCore")
    # A fraction of the load plan's limit, not "2x": the same assertion holds on 2 and 64 cores, and
    # fails on a 64-core run that keeps 8 workers busy. 0.65 of the limit is about 1.3x on 2 cores.
    assert every["workers"] == usable_core_count(), every
    assert every["fraction_of_limit"] >= 0.65, every
    assert every["idle_workers"] == 0 and not every["users_bound"], every
