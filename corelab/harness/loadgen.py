"""Run Locust headless as a subprocess and read back what it measured.

Locust is never imported here: it monkey-patches the standard library with gevent, which
would break a Jupyter kernel or the test process. It runs as its own process group instead.

One load generator process is one Locust process. ``LoadConfig(generators=K)`` with K > 1 runs
Locust's distributed mode instead: a master (which sends no requests, it shares out the users
and sums the reports) and K worker processes that send them, all in one process group
(corelab/harness/generator_group.py). Each worker writes its counts into its own ``generator-<i>/``
folder; ``read_locust_results`` sums them into the run's own files.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from corelab.harness.results import GENERATOR_BOUND_PCT
from corelab.harness.scenarios import Scenario
from plumbing.env import WORKER_COUNTS
from plumbing.procs import ManagedProcess, free_port


@dataclass(frozen=True)
class LoadConfig:
    users: int
    seconds: float
    # Seconds over which the users start; 0: all at once (see corelab.harness.scenarios).
    ramp_s: float = 0.0
    # Load generator processes: 1 is one Locust process; K > 1 is Locust's master and K workers.
    generators: int = 1

    def __post_init__(self) -> None:
        if isinstance(self.generators, bool) or not isinstance(self.generators, int) or self.generators < 1:
            raise ValueError(f"generators must be a whole number of processes, at least 1 (got {self.generators!r})")
        if self.users < self.generators:
            raise ValueError(
                f"generators={self.generators} needs at least as many users (got {self.users}): "
                "each generator process runs some of them"
            )

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
    """Start Locust; its CSVs, log and per-worker counts land in ``run_dir``.

    With ``load.generators`` > 1 the process returned is the group's launcher: the master and
    the workers are its children, in its process group, and stop with it.
    """
    if load.generators > 1:
        return start_generator_group(scenario, host, load, run_dir, env)
    return ManagedProcess(
        locust_command(scenario, host, load, run_dir / "locust"),
        log_path=run_dir / "locust.log",
        env={**(env or {}), WORKER_COUNTS: str(run_dir / "workers.json")},
        grace=10.0,
        # A notebook kernel killed mid-run takes its Locust with it (its --run-time would end it later).
        die_with_parent=True,
    )


# The launcher of a master and its workers (a script: see its docstring).
GENERATOR_GROUP = Path(__file__).with_name("generator_group.py")
# How long the master waits for its workers to connect before it gives up (they need 1-2 s).
WORKERS_CONNECT_S = 30
# Written by the launcher: {"launcher": pid, "master": pid, "workers": [pid, ...]}.
GENERATOR_PIDS = "generators.json"


def generator_group_plan(scenario: Scenario, host: str, load: LoadConfig, run_dir: Path, port: int) -> dict:
    """The command lines of a master on loopback ``port`` and ``load.generators`` workers."""
    master = [
        *locust_command(scenario, host, load, run_dir / "locust"),
        "--master",
        "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port),
        "--expect-workers", str(load.generators),
        "--expect-workers-max-wait", str(WORKERS_CONNECT_S),
    ]  # fmt: skip
    workers = []
    for i in range(1, load.generators + 1):
        folder = run_dir / f"generator-{i}"
        folder.mkdir(parents=True, exist_ok=True)
        argv = [
            master[0], "-f", str(scenario.locustfile), "--worker",
            "--master-host", "127.0.0.1", "--master-port", str(port), "--loglevel", "WARNING",
        ]  # fmt: skip
        # Each worker counts the responses it got into its own folder; the master counts none.
        workers.append(
            {
                "argv": argv,
                "log": str(folder / "locust.log"),
                "env": {WORKER_COUNTS: str(folder / "workers.json")},
            }
        )
    return {
        "master": {"argv": master, "log": str(run_dir / "locust.log"), "env": {WORKER_COUNTS: ""}},
        "workers": workers,
        "pids": str(run_dir / GENERATOR_PIDS),
    }


def start_generator_group(
    scenario: Scenario, host: str, load: LoadConfig, run_dir: Path, env: dict[str, str] | None = None
) -> ManagedProcess:
    plan_path = run_dir / "generator_plan.json"
    plan_path.write_text(json.dumps(generator_group_plan(scenario, host, load, run_dir, free_port()), indent=1) + "\n")
    return ManagedProcess(
        [sys.executable, "-I", str(GENERATOR_GROUP), str(plan_path)],
        log_path=run_dir / "generator_group.log",
        env=env,
        grace=10.0,
        die_with_parent=True,
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
    merge_generator_outputs(run_dir)
    stats = pd.read_csv(run_dir / "locust_stats.csv")
    history = pd.read_csv(run_dir / "locust_stats_history.csv")
    counts_path = run_dir / "workers.json"
    counts = json.loads(counts_path.read_text()) if counts_path.exists() else {}
    return stats, history, counts


# -- K generator processes: their files summed, their CPU, the honesty rule ---------------------


def merge_generator_outputs(run_dir: Path) -> None:
    """Sum the workers' own counts (generator-<i>/) into the run's workers.json and worker_timeline.csv.

    A run with one generator process wrote those itself; then there is nothing to do.
    """
    folders = sorted(run_dir.glob("generator-*/"))
    if not folders:
        return
    counts: Counter[str] = Counter()
    connections: Counter[str] = Counter()
    timelines = []
    for folder in folders:
        if (folder / "workers.json").exists():
            counts.update(json.loads((folder / "workers.json").read_text()))
        if (folder / "worker_connections.json").exists():
            connections.update(json.loads((folder / "worker_connections.json").read_text()))
        if (folder / "worker_timeline.csv").exists():
            timelines.append(pd.read_csv(folder / "worker_timeline.csv"))
    (run_dir / "workers.json").write_text(json.dumps(dict(counts)))
    if connections:
        (run_dir / "worker_connections.json").write_text(json.dumps(dict(connections)))
    if timelines:
        merged = pd.concat(timelines).groupby(["t", "pid"], as_index=False)["responses"].sum()
        merged.to_csv(run_dir / "worker_timeline.csv", index=False)


def timeline_rps(run_dir: Path, ramp_s: float) -> float:
    """Responses per second once every user has started, from the generators' per-second counts.

    A distributed master's history moves in steps: each worker reports every 3 s. The workers'
    own counts, one row per second and server pid, are exact. As ``steady_rps`` does, count from
    one second after the last user started, and leave out the last, partial second.
    """
    path = run_dir / "worker_timeline.csv"
    if not path.exists():
        return 0.0
    per_second = pd.read_csv(path).groupby("t")["responses"].sum()
    if per_second.empty:
        return 0.0
    first, last = int(per_second.index.min()), int(per_second.index.max())
    seconds = range(first + int(ramp_s) + 1, last)
    if len(seconds) < 1:
        seconds = range(first, last + 1)
    return float(per_second.reindex(seconds, fill_value=0).mean())


def measured_rps(run_dir: Path, history: pd.DataFrame, load: LoadConfig) -> float:
    """The run's steady rate: Locust's history for one process, the workers' own counts for K."""
    return steady_rps(history, load.ramp_s) if load.generators == 1 else timeline_rps(run_dir, load.ramp_s)


def generator_processes(run_dir: Path, procs: pd.DataFrame) -> list[dict]:
    """Each load generator process: role, pid, mean CPU (% of one core) in ``procs``, responses.

    ``procs`` is the sampler's table over the run's window. Roles: "locust" (one process),
    or "master" and "worker" (with ``index`` 1..K). The launcher of a group is left out: it waits.
    """
    mine = procs[procs["group"] == "generator"]
    cpu = mine.groupby("pid")["cpu_pct"].mean()
    pids_path = run_dir / GENERATOR_PIDS
    if not pids_path.exists():
        roots = mine.loc[mine["role"] == "root", "pid"]
        pid = int(roots.iloc[0]) if not roots.empty else 0
        return [_process("locust", 0, pid, cpu, _responses(run_dir / "workers.json"))]
    pids = json.loads(pids_path.read_text())
    found = [_process("master", 0, pids["master"], cpu, 0)]
    for i, pid in enumerate(pids["workers"], start=1):
        found.append(_process("worker", i, pid, cpu, _responses(run_dir / f"generator-{i}" / "workers.json")))
    return found


def generator_bound(processes: list[dict]) -> bool:
    """The honesty rule: any process that sends requests used more than 80% of a core.

    The master only shares out users and sums reports, so it does not decide (it is recorded).
    """
    return any(p["cpu_pct"] > GENERATOR_BOUND_PCT for p in processes if p["role"] != "master")


def label_generator_roles(procs: pd.DataFrame, run_dir: Path) -> pd.DataFrame:
    """The sampler's table with the generator group's roles named: launcher, master, worker."""
    pids_path = run_dir / GENERATOR_PIDS
    if not pids_path.exists():
        return procs
    pids = json.loads(pids_path.read_text())
    roles = {pids["launcher"]: "launcher", pids["master"]: "master", **{pid: "worker" for pid in pids["workers"]}}
    mine = procs["group"] == "generator"
    procs = procs.copy()
    procs.loc[mine, "role"] = procs.loc[mine, "pid"].map(roles).fillna(procs.loc[mine, "role"])
    return procs


def _process(role: str, index: int, pid: int, cpu: pd.Series, responses: int) -> dict:
    return {
        "role": role,
        "index": index,
        "pid": pid,
        "cpu_pct": round(float(cpu.get(pid, 0.0)), 1),
        "responses": responses,
    }


def _responses(counts_path: Path) -> int:
    return sum(json.loads(counts_path.read_text()).values()) if counts_path.exists() else 0
