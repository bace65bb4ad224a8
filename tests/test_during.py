"""One run, with a hook: a ``during`` callback acts on the live server on the run's clock, and what it
records is stored in the run's meta.json and read back as ``Runs.events``. Real servers, real Locust."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from corelab.harness.during import LiveRun
from corelab.harness.results import load_runs, machine_info, write_summary
from corelab.harness.run import run_one, run_specs


def _run(tmp_path: Path, during, seconds: float = 4) -> dict:
    # A new connection per request, so a replacement worker gets connections as soon as it serves.
    spec = run_specs(["cluster"], 2, ["rr"], "short", seconds, 4)[0]
    return run_one(spec, tmp_path / "01-run", "01-run", machine_info(), None, during=during)


def test_a_callback_acts_on_the_live_server_and_its_events_are_stored(tmp_path: Path) -> None:
    seen: dict[str, object] = {}

    def kill_a_worker(run: LiveRun) -> None:
        if run.wait_until(1.5):
            seen["before"] = run.worker_pids()
            victim = min(run.worker_pids())
            os.kill(victim, signal.SIGKILL)
            run.record(f"SIGKILL to worker {victim}", pid=victim)

    row = _run(tmp_path, kill_a_worker)
    meta = json.loads((tmp_path / "01-run" / "meta.json").read_text())
    [event] = meta["events"]
    assert 1.4 <= event["t"] <= 3.0, event
    assert event["what"].startswith("SIGKILL to worker") and event["pid"] in seen["before"]  # type: ignore[operator]
    assert row["requests"] > 0

    write_summary(tmp_path)
    runs = load_runs(tmp_path)
    assert list(runs.events[["run", "label", "what"]].itertuples(index=False, name=None)) == [
        ("01-run", row["label"], event["what"])
    ]
    # The cluster replaced the worker while the load went on: a pid it never had before served afterwards.
    timeline = runs.worker_timeline
    before = set(timeline[timeline["t"] < event["t"] - 1]["pid"])
    after = set(timeline[timeline["t"] > event["t"] + 1]["pid"])
    assert event["pid"] not in after and after - before, timeline


def test_a_run_without_a_callback_stores_no_events(tmp_path: Path) -> None:
    _run(tmp_path, None, seconds=3)
    assert json.loads((tmp_path / "01-run" / "meta.json").read_text())["events"] == []


def test_a_callback_still_waiting_when_the_load_ends_is_released(tmp_path: Path) -> None:
    woke: list[bool] = []
    started = time.monotonic()
    _run(tmp_path, lambda run: woke.append(run.wait_until(600)), seconds=3)
    assert woke == [False]
    assert time.monotonic() - started < 60


def test_a_failing_callback_fails_the_run_and_stops_everything(tmp_path: Path) -> None:
    def broken(run: LiveRun) -> None:
        run.wait_until(1)
        raise ValueError("no such worker")

    with pytest.raises(RuntimeError, match="no such worker"):
        _run(tmp_path, broken, seconds=3)
    # The autouse leak check then fails this test if the server, a worker or Locust survived.
