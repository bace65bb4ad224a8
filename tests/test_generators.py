"""K load generator processes: Locust's master and K workers, each one's CPU recorded, stopped together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import psutil
import pytest

from corelab.harness.generator_group import WORKER_DIED
from corelab.harness.loadgen import GENERATOR_PIDS, LoadConfig, generator_bound, generator_processes, start_locust
from corelab.harness.run import bench
from corelab.harness.scenarios import get_scenario


def wait_for_pids(run_dir: Path, timeout: float = 10.0) -> dict:
    path = run_dir / GENERATOR_PIDS
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, "the launcher wrote no pids"
        time.sleep(0.05)
    return json.loads(path.read_text())


def running(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def all_pids(pids: dict) -> list[int]:
    return [pids["launcher"], pids["master"], *pids["workers"]]


def test_two_generator_processes_each_measured_and_counted(tmp_path: Path) -> None:
    runs = bench(
        ["cluster"], workers=2, scenario="hello", seconds=3, users=4, generators=2, out=tmp_path, progress=None
    )
    row = runs.summary.iloc[0]
    meta = json.loads(next(tmp_path.glob("*/meta.json")).read_text())
    found = meta["generators"]
    assert [p["role"] for p in found] == ["master", "worker", "worker"]
    assert len({p["pid"] for p in found}) == 3
    workers = found[1:]
    # Both workers sent requests and spent CPU on it.
    assert all(w["responses"] > 100 and w["cpu_pct"] > 5 for w in workers), workers
    # One combined result: the master's total is what the two workers counted between them.
    counted = sum(w["responses"] for w in workers)
    assert row.failures == 0
    assert abs(row.requests - counted) <= 0.02 * counted, (row.requests, counted)
    assert row.rps > 100
    # The honesty rule reads the per-process figures: the busiest sender decides.
    assert row.generators == 2
    assert row.generator_max_cpu_pct == max(w["cpu_pct"] for w in workers)
    assert bool(row.generator_bound) == any(w["cpu_pct"] > 80 for w in workers)
    # The sampler's table names each generator process's role: the per-process series are there.
    gen = runs.procs[runs.procs["group"] == "generator"]
    assert set(gen.loc[gen["role"] == "worker", "pid"]) == {w["pid"] for w in workers}
    assert set(gen.loc[gen["role"] == "master", "pid"]) == {found[0]["pid"]}
    # The per-second counts of both workers were summed into the run's own timeline.
    timeline = pd.read_csv(next(tmp_path.glob("*/worker_timeline.csv")))
    assert timeline["responses"].sum() == counted
    assert not any(running(p["pid"]) for p in found)


def test_the_busiest_sender_decides_not_the_total_nor_the_master(tmp_path: Path) -> None:
    (tmp_path / GENERATOR_PIDS).write_text(json.dumps({"launcher": 10, "master": 11, "workers": [12, 13]}))

    def sampled(cpu: dict[int, float]) -> pd.DataFrame:
        rows = [(t / 10, "generator", pid, "child", pct, 0, 0) for t in range(20) for pid, pct in cpu.items()]
        return pd.DataFrame(rows, columns=["t", "group", "pid", "role", "cpu_pct", "rss_bytes", "core"])

    # 140% of generator CPU in all, and a busy master, yet no process that sends requests was the limit.
    spread = generator_processes(tmp_path, sampled({10: 0.1, 11: 95.0, 12: 70.0, 13: 70.0}))
    assert [(p["role"], p["index"], p["cpu_pct"]) for p in spread] == [
        ("master", 0, 95.0),
        ("worker", 1, 70.0),
        ("worker", 2, 70.0),
    ]
    assert not generator_bound(spread)
    # One worker past 80% of a core is enough.
    assert generator_bound(generator_processes(tmp_path, sampled({10: 0.0, 11: 1.0, 12: 20.0, 13: 85.0})))


def test_a_worker_that_dies_stops_the_run_and_nothing_is_left(serve, tmp_path: Path) -> None:
    server = serve("single")
    with start_locust(
        get_scenario("hello"), server.url, LoadConfig(users=4, seconds=60, generators=2), tmp_path
    ) as gen:
        pids = wait_for_pids(tmp_path)
        time.sleep(1.0)
        os.kill(pids["workers"][0], signal.SIGKILL)
        assert gen.wait(timeout=10) == WORKER_DIED
    assert "generator worker 1 exited with code -9" in (tmp_path / "generator_group.log").read_text()
    assert not any(running(pid) for pid in all_pids(pids))


def test_an_interrupted_run_stops_every_generator_process(serve, tmp_path: Path) -> None:
    server = serve("single")
    with (
        pytest.raises(KeyboardInterrupt),
        start_locust(get_scenario("hello"), server.url, LoadConfig(users=6, seconds=60, generators=3), tmp_path),
    ):
        pids = wait_for_pids(tmp_path)
        time.sleep(1.5)
        assert all(running(pid) for pid in all_pids(pids))
        raise KeyboardInterrupt  # what Ctrl-C raises in the harness
    assert not any(running(pid) for pid in all_pids(pids))


@pytest.mark.parametrize("bad", [0, -2])
def test_a_bad_number_of_generators_is_a_clear_error(bad: int, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="generators must be a whole number of processes, at least 1"):
        bench(["single"], scenario="hello", seconds=3, generators=bad, out=tmp_path, progress=None)
    assert not list(tmp_path.iterdir())  # refused before anything started or was written
    with pytest.raises(ValueError, match="needs at least as many users"):
        LoadConfig(users=2, seconds=3, generators=3)


def test_the_command_refuses_a_bad_count() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "corelab", "generators", "--counts", "1", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "generators must be a whole number of processes" in done.stderr
