"""Processes sharing one counter in multiprocessing.shared_memory: lost updates, exact with a lock."""

from __future__ import annotations

from collections.abc import Iterator
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

from corelab.cli import main as cli_main
from corelab.lessons.one_process.shared_counter import CounterConfig, measure_counter, run_counter


@pytest.fixture(scope="module", autouse=True)
def resource_tracker_of_the_session() -> Iterator[None]:
    # SharedMemory starts multiprocessing's resource tracker once per process, for the rest of the
    # session. Started from inside a test it would carry that test's owner id and count as a leak.
    resource_tracker.ensure_running()
    yield


def shm_segments() -> set[str]:
    shm = Path("/dev/shm")
    return {p.name for p in shm.iterdir()} if shm.is_dir() else set()


def test_unlocked_loses_updates_locked_and_batched_are_exact() -> None:
    before = shm_segments()
    result = measure_counter(CounterConfig(processes=2, increments=200_000))
    unlocked, locked, batched = (result.row(m) for m in ("unlocked", "locked", "batched"))
    assert unlocked.lost > 0, result.summary_table()  # two cores adding at once overwrite each other
    assert locked.counted == locked.expected == 400_000, result.summary_table()
    assert batched.counted == batched.expected, result.summary_table()
    assert locked.ns_per_op > unlocked.ns_per_op and result.lock_cost_ns > 0
    fields = result.as_json()["fields"]
    assert fields["expected"] == 400_000 and fields["unlocked_lost"] == unlocked.lost > 0
    assert fields["locked_lost"] == fields["batched_lost"] == 0
    assert fields["lock_cost_ns"] == pytest.approx(result.lock_cost_ns, abs=0.1)
    assert not {s for s in shm_segments() - before if s.startswith("psm_")}, "a shared memory segment was left"


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unlocked, locked, batched"):
        run_counter("atomic", CounterConfig())


def test_bad_command_line_input_is_a_clear_error(capsys: pytest.CaptureFixture) -> None:
    assert cli_main(["shared-counter", "--processes", "1"]) == 2
    assert "must be" in capsys.readouterr().err
