"""A run says when the server was not what it measured: too few users for the workers (users-bound),
workers that served nothing (idle), one usable core; real runs on this machine."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from corelab.harness.run import bench
from plumbing.procs import PROJECT_ROOT, python_module


def test_two_users_on_four_workers_are_users_bound_and_leave_two_idle(tmp_path: Path) -> None:
    runs = bench(
        ["cluster"], workers=4, policies=["rr"], users=2, scenario="cpu", seconds=4, out=tmp_path, progress=None,
        live=False,
    )  # fmt: skip
    row = runs.summary.iloc[0]
    assert bool(row.users_bound), runs.summary_table()
    # rr hands each new connection to the next worker; two keep-alive users hold two connections.
    assert row.idle_workers == 2, runs.summary_table()
    table = runs.summary_table()
    assert "users-bound!" in table and "2 idle workers!" in table, table
    meta = json.loads(next(tmp_path.glob("*/meta.json")).read_text())
    assert meta["plan"]["workers"] == 4 and meta["plan"]["users"] == 2 and meta["plan"]["limit_rps"] > 0


def test_the_plans_users_leave_no_worker_idle(tmp_path: Path) -> None:
    runs = bench(
        ["cluster"], workers=4, policies=["rr"], scenario="cpu", seconds=4, out=tmp_path, progress=None, live=False
    )
    row = runs.summary.iloc[0]
    assert row.users == 16 and not bool(row.users_bound) and row.idle_workers == 0, runs.summary_table()


@pytest.mark.skipif(shutil.which("taskset") is None, reason="taskset (util-linux) is not installed")
def test_the_demo_on_one_core_runs_one_worker_and_says_why_there_is_no_speed_up(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    proc = subprocess.run(
        ["taskset", "-c", "0", *python_module("corelab", "demo", "--seconds", "3", "--out", str(out))],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "fork cluster of 1 worker," in proc.stdout and "cluster x1" in proc.stdout, proc.stdout
    assert "note: one usable core: a cluster cannot show a speed-up here" in proc.stdout, proc.stdout
    for run_dir in (p.parent for p in out.glob("*/meta.json")):
        assert set(pd.read_csv(run_dir / "cores.csv")["core"]) == {0}  # one row: the one usable core
