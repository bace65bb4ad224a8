"""Who used the cores, in cores' worth: a process the scheduler moves between cores still counts as
one core, and the server is told apart from another busy process beside it (corelab.harness.shares)."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from corelab.figures import plot_core_heatmap
from corelab.harness.run import bench
from corelab.harness.shares import core_moves, cores_worth, server_on_cores
from corelab.lessons.cores.claims import one_core_claim
from plumbing.procs import ManagedProcess
from tests.synthetic_runs import synthetic_runs


def test_one_process_hopping_over_16_cores_is_one_core_in_the_strip_and_the_claim() -> None:
    runs = synthetic_runs(16, 16, hop=True)
    worth = cores_worth(runs)
    single = worth[worth["label"] == "single"]
    assert single["server"].between(0.9, 1.0).all(), single["server"].describe()
    # Sixteen rows each lit now and then, one core's worth in all: the claim says why.
    per_core = runs.cores[runs.cores["label"] == "single"].groupby("core")["util_pct"].mean()
    assert (per_core > 2).sum() == 16 and per_core.max() < 20
    moves = core_moves(runs).set_index("label").loc["single"]
    assert moves["moves"] > 100 and moves["cores_visited"] == 16
    claim = one_core_claim(runs)
    assert claim.server_cpu_pct <= 100 and claim.core_moves > 100 and claim.cores_visited == 16
    assert "never ran on two at once" in claim.sentence()
    fig = plot_core_heatmap(runs)
    strip = fig.axes[1]  # beneath the single process's heatmap: its cores' worth, stacked
    server_top = max(strip.collections[0].get_paths()[0].vertices[:, 1])
    assert 0.9 <= server_top <= 1.0, server_top
    plt.close(fig)


def test_the_veil_marks_a_core_busy_with_something_else_and_not_the_servers() -> None:
    runs = synthetic_runs(4, 2)
    on = server_on_cores(runs)
    assert set(on[on["label"] == "single"]["core"]) == {0}  # the single process ran on core 0 only
    # A neighbour keeps core 3 busy during the single process's run.
    neighbour = (runs.cores["label"] == "single") & (runs.cores["core"] == 3)
    runs.cores.loc[neighbour, "util_pct"] = 95.0
    fig = plot_core_heatmap(runs)
    veil = fig.axes[0].images[1].get_array()  # over the single run's heatmap: rows are cores 0..3
    plt.close(fig)
    alpha = veil[..., 3]
    assert (alpha[3] > 0).all() and (alpha[0] == 0).all() and (alpha[1] == 0).all(), alpha.max(axis=1)


def test_a_real_server_and_a_busy_neighbour_are_told_apart(tmp_path: Path) -> None:
    with ManagedProcess([sys.executable, "-c", "while True: pass"]):
        runs = bench(["single"], scenario="cpu", users=8, seconds=5, out=tmp_path, progress=None, live=False)
    worth = cores_worth(runs)
    steady = worth[worth["t"] > 2.5]
    # The server's own process: at most one core. The neighbour: the rest of what the cores did.
    assert steady["server"].mean() == pytest.approx(runs.summary.iloc[0]["server_cpu_pct"] / 100, abs=0.15)
    assert 0.35 <= steady["server"].mean() <= 1.1, steady.describe()
    assert steady["other"].mean() >= 0.5, steady.describe()
    assert (steady["server"] + steady["generator"] + steady["other"] <= steady["busy"] + 1e-6).all()
    claim = one_core_claim(runs)
    assert claim.other_cores >= 0.5 and claim.server_cpu_pct <= 110, claim.sentence()
