"""Threads, processes and the GIL; pools vs a worker per task: the claims, with wide margins."""

from __future__ import annotations

import concurrent.futures
import sys
import sysconfig
import time

import psutil
import pytest

from corelab.cli import main as cli_main
from corelab.lessons.one_process import parallel
from corelab.lessons.one_process.parallel import (
    HASH_THREADS,
    PURE_PROCESSES,
    PURE_THREADS,
    ParallelConfig,
    free_threading,
    measure_parallel,
    subinterpreters,
)
from corelab.lessons.one_process.spawn_cost import (
    NEW_SPAWN,
    NEW_THREAD,
    POOL_PROCESS,
    POOL_THREAD,
    SpawnCostConfig,
    measure_spawn_cost,
)


@pytest.fixture(scope="module")
def measured() -> parallel.ParallelResult:
    # Start on quiet cores: the servers and pools of the tests before this one may still be
    # winding down, and a speed-up measured beside them is theirs as much as ours.
    deadline = time.monotonic() + 10
    while psutil.cpu_percent(interval=0.5) > 15 and time.monotonic() < deadline:
        pass
    # The median of five runs of each step: one short run alone can meet a noisy neighbour.
    return measure_parallel(ParallelConfig(workers=(1, 2), job_seconds=0.5, repeat=5))


# Speed-ups are reported, not asserted: on this kind of 2-vCPU VM the host's noise alone moves the
# ratio of two spinning processes to one from 1.28x to 2.68x over 0.5 s rounds (1.32x-2.40x over
# 3 s rounds, nothing else running), so a throughput floor fails at random. How many cores the jobs
# kept busy (CPU seconds over wall seconds, within one run) is what the GIL decides, and the host
# does not move it.
def test_threads_keep_one_core_busy_on_pure_python(measured: parallel.ParallelResult) -> None:
    if free_threading()[0]:
        pytest.skip("a free-threaded interpreter: here threads may run Python in parallel")
    assert measured.cores_busy(PURE_THREADS, 2) <= 1.3, measured.summary_table()


def test_processes_keep_two_cores_busy(measured: parallel.ParallelResult) -> None:
    if measured.cores_available < 2:
        pytest.skip("one usable core: nothing to run in parallel on")
    assert measured.cores_busy(PURE_PROCESSES, 2) >= 1.5, measured.summary_table()
    # And they got more done than the threads did, which could not run at once.
    assert measured.speedup(PURE_PROCESSES, 2) > measured.speedup(PURE_THREADS, 2), measured.summary_table()


def test_threads_keep_two_cores_busy_when_the_work_releases_the_gil(measured: parallel.ParallelResult) -> None:
    if measured.cores_available < 2:
        pytest.skip("one usable core")
    assert measured.cores_busy(HASH_THREADS, 2) >= 1.5, measured.summary_table()


def test_the_claim_carries_the_numbers_of_its_table(measured: parallel.ParallelResult) -> None:
    fields = measured.as_json()["fields"]
    assert fields["workers"] == 2 and fields["cores_available"] == measured.cores_available
    for key, mode in parallel.CLAIM_MODES.items():
        if mode in set(measured.table["mode"]):
            assert fields[f"{key}_cores_busy"] == pytest.approx(measured.cores_busy(mode, 2), abs=1e-3)
            assert fields[f"{key}_speedup"] == pytest.approx(measured.speedup(mode, 2), abs=1e-3)
        else:  # not measured: no number, and the reason is in the sentence
            assert fields[f"{key}_cores_busy"] is None and mode not in measured.sentence()
    assert sorted(measured.skipped) == fields["skipped"]
    assert all(why in measured.sentence() for why in measured.skipped.values())


def test_the_cores_were_sampled_throughout(measured: parallel.ParallelResult) -> None:
    cores = measured.cores
    assert cores["core"].nunique() == psutil.cpu_count(logical=True)
    raw = measured.raw
    assert cores["t"].max() >= raw["t_end"].max() - 0.2
    assert (raw["t_end"] > raw["t_start"]).all() and len(raw) == 3 * 2 * 5  # modes x worker counts x rounds


def test_what_the_interpreter_lacks_is_skipped_with_a_reason_never_faked(measured: parallel.ParallelResult) -> None:
    free, _ = free_threading()
    gil_disabled = sysconfig.get_config_var("Py_GIL_DISABLED") == 1 and not getattr(sys, "_is_gil_enabled", bool)()
    assert free == gil_disabled
    subs, _ = subinterpreters()
    assert subs == hasattr(concurrent.futures, "InterpreterPoolExecutor")
    modes = set(measured.table["mode"])
    if not subs:
        assert "subinterpreters" in measured.skipped and "3.14" in measured.skipped["subinterpreters"]
        assert not any("subinterpreter" in m for m in modes)
    assert measured.free_threaded == free
    if not free:
        assert "free-threaded threads" in measured.skipped


def test_a_reused_pool_costs_far_less_per_task_than_a_new_process() -> None:
    cost = measure_spawn_cost(SpawnCostConfig(tasks=30, process_tasks=4))
    pool, spawned = cost.median_ms(POOL_PROCESS), cost.median_ms(NEW_SPAWN)
    assert pool * 10 < spawned, cost.summary_table()
    assert cost.median_ms(POOL_THREAD) < spawned and cost.median_ms(NEW_THREAD) < spawned
    assert set(cost.stats()["tasks"]) <= {30, 4}
    fields = cost.as_json()["fields"]
    assert fields["spawn_over_pool"] == pytest.approx(spawned / pool, rel=0.01) and fields["spawn_over_pool"] > 10
    assert fields["pool_process_median_ms"] == pytest.approx(pool, abs=1e-4)
    assert (fields["tasks"], fields["process_tasks"]) == (30, 4)


@pytest.mark.parametrize(
    "argv",
    [
        ["parallel", "--workers", "0"],
        ["parallel", "--job-seconds", "-1"],
        ["spawn-cost", "--tasks", "0"],
        ["spawn-cost", "--process-tasks", "100000"],
    ],
)
def test_bad_command_line_input_is_a_clear_error(argv: list[str], capsys: pytest.CaptureFixture) -> None:
    assert cli_main(argv) == 2
    assert "must be" in capsys.readouterr().err
