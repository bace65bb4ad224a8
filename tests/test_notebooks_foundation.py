"""Notebooks 01 and 02 run end to end in QUICK mode and show what they claim."""

from __future__ import annotations

import pytest

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
    assert every["speedup"] >= 1.3, every  # 2 cores; the benchmark reports the exact figure
