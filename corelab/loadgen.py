"""Run Locust headless as a subprocess and read back what it measured.

Locust is never imported here: it monkey-patches the standard library with gevent, which
would break a Jupyter kernel or the test process. It runs as its own process group instead.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from corelab.procs import ManagedProcess
from corelab.scenarios import Scenario


@dataclass(frozen=True)
class LoadConfig:
    users: int
    seconds: float
    # Seconds over which the users start; 0: all at once (see corelab.scenarios).
    ramp_s: float = 0.0

    @property
    def spawn_rate(self) -> float:
        return self.users / self.ramp_s if self.ramp_s > 0 else float(self.users)


def locust_command(scenario: Scenario, host: str, load: LoadConfig, csv_prefix: Path) -> list[str]:
    locust = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"
    return [
        locust,
        "-f", str(scenario.locustfile),
        "--headless",
        "--host", host,
        "--users", str(load.users),
        "--spawn-rate", f"{load.spawn_rate:g}",
        "--run-time", f"{max(1, round(load.seconds))}s",
        "--csv", str(csv_prefix),
        "--csv-full-history",
        "--only-summary",
        "--loglevel", "WARNING",
        "--exit-code-on-error", "0",
        "--stop-timeout", "2",
    ]  # fmt: skip


def start_locust(
    scenario: Scenario, host: str, load: LoadConfig, run_dir: Path, env: dict[str, str] | None = None
) -> ManagedProcess:
    """Start Locust; its CSVs, log and per-worker counts land in ``run_dir``."""
    return ManagedProcess(
        locust_command(scenario, host, load, run_dir / "locust"),
        log_path=run_dir / "locust.log",
        env={**(env or {}), "CORELAB_WORKER_COUNTS": str(run_dir / "workers.json")},
        grace=10.0,
    )


def wait_for_locust(locust: ManagedProcess, seconds: float, progress: TextIO | None = None) -> None:
    """Wait for a Locust run of ``seconds`` to end; on a terminal, draw a progress bar meanwhile."""
    # Locust needs a second or two to start and a moment to write its CSVs after the run.
    deadline = time.monotonic() + seconds + 30
    started = time.monotonic()
    on_tty = progress is not None and getattr(progress, "isatty", lambda: False)()
    while locust.alive():
        if time.monotonic() > deadline:
            raise TimeoutError(f"Locust did not finish:\n{locust.log_text()}")
        time.sleep(0.2)
        if on_tty:
            elapsed = min(seconds, time.monotonic() - started)
            bar = "#" * int(20 * elapsed / seconds)
            progress.write(f"\r      [{bar:<20}] {elapsed:4.0f}/{seconds:g} s")
            progress.flush()
    if on_tty:
        progress.write("\r" + " " * 40 + "\r")


def steady_rps(history: pd.DataFrame, ramp_s: float) -> float:
    """Requests per second once every user has started, from Locust's running total.

    Locust's own average includes its start: the users connecting, and the ramp when the
    scenario has one. Counting from one second after the last user started measures the
    server at its working pace.
    """
    agg = history[(history["Name"] == "Aggregated") & (history["User Count"] > 0)]
    if len(agg) < 2:
        return 0.0
    start = agg["Timestamp"].iloc[0] + ramp_s + 1
    steady = agg[agg["Timestamp"] >= start]
    if len(steady) < 2:
        steady = agg
    span = steady["Timestamp"].iloc[-1] - steady["Timestamp"].iloc[0]
    count = steady["Total Request Count"].iloc[-1] - steady["Total Request Count"].iloc[0]
    return float(count / span) if span > 0 else 0.0


def read_locust_results(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Locust's final stats, its per-second history, and responses per worker pid."""
    stats = pd.read_csv(run_dir / "locust_stats.csv")
    history = pd.read_csv(run_dir / "locust_stats_history.csv")
    counts_path = run_dir / "workers.json"
    counts = json.loads(counts_path.read_text()) if counts_path.exists() else {}
    return stats, history, counts
