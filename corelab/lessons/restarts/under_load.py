"""Measure what a restart or a crash costs a cluster while Locust keeps sending requests.

- ``restart_under_load``: a rolling restart, a naive one (stop all, start all), a worker
  SIGKILLed, or gunicorn's own HUP, in the middle of a steady load; throughput and failures
  per second, and which worker pids served in each second.
- ``respawn_times``: SIGKILL a worker, time until its replacement reports serving.

Every run is corelab.harness.run's run: a restart or a crash is a callback handed to ``run_one``, and
what it did is in the run's meta.json (``events``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import pandas as pd

from corelab.harness.during import During, LiveRun
from corelab.harness.results import Runs, load_runs, machine_info, new_results_dir, write_summary
from corelab.harness.run import run_one, run_specs
from plumbing.procs import ManagedProcess, free_port, python_module, wait_until_serving
from servers.cluster.policies import DEFAULT_POLICY

# -- restarts and crashes under load -----------------------------------------------------------


@dataclass(frozen=True)
class Disruption:
    name: str
    label: str
    variant: str  # "cluster", "gunicorn", "node-cluster" or "node-pm2"
    restart: str | None  # the cluster's --restart mode
    action: str  # "hup": SIGHUP the primary; "kill": SIGKILL one worker


DISRUPTIONS = {
    d.name: d
    for d in (
        Disruption("rolling", "rolling restart (SIGHUP)", "cluster", "rolling", "hup"),
        Disruption("naive", "naive restart: stop all, start all", "cluster", "naive", "hup"),
        Disruption("crash", "a worker SIGKILLed", "cluster", "rolling", "kill"),
        Disruption("gunicorn", "gunicorn's SIGHUP", "gunicorn", None, "hup"),
        # The articles' Node originals (servers/node): `python -m servers.node` turns SIGHUP into
        # cluster.js's one-at-a-time restart, or into `pm2 reload` for PM2's cluster mode.
        Disruption("node-rolling", "Node cluster: the articles' rolling restart", "node-cluster", None, "hup"),
        Disruption("pm2-reload", "PM2: pm2 reload", "node-pm2", None, "hup"),
    )
}


@dataclass
class RestartRuns:
    runs: Runs  # the runs as stored, read like any other (their events included)
    summary: pd.DataFrame  # run, label, kind, requests, failures, failed_pct, errors

    @property
    def root(self) -> Path:
        return self.runs.root

    @property
    def history(self) -> pd.DataFrame:  # run, label, t, rps, failures_per_s
        return self.runs.history[["run", "label", "t", "rps", "failures_per_s"]]

    @property
    def timeline(self) -> pd.DataFrame:  # run, label, t, pid, responses
        return self.runs.worker_timeline

    @property
    def events(self) -> pd.DataFrame:  # run, label, t, what
        return self.runs.events

    def __repr__(self) -> str:
        return self.summary.to_string(index=False)


def restart_under_load(
    kinds: tuple[str, ...] = ("rolling", "naive"),
    *,
    workers: int = 2,
    policy: str = DEFAULT_POLICY,
    scenario: str = "cpu_no_retry",
    users: int | None = None,
    seconds: float = 20,
    at: tuple[float, ...] | None = None,
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
) -> RestartRuns:
    """Load a server steadily; at each of ``at`` seconds (default: half-way) disrupt it as ``kind`` says.

    The default scenario's client never retries (loadtests/cpu_no_retry.py), so every request a
    restart or a crash breaks is counted as failed.
    """
    root = Path(out) if out else new_results_dir("restarts")
    root.mkdir(parents=True, exist_ok=True)
    moments = sorted(at or (seconds / 2,))
    machine = machine_info()
    for i, kind in enumerate(kinds, start=1):
        disruption = DISRUPTIONS[kind]
        policies = [policy] if disruption.variant == "cluster" else None
        spec = run_specs([disruption.variant], workers, policies, scenario, seconds, users)[0]
        restart = ("--restart", disruption.restart) if disruption.restart else ()
        spec = replace(spec, title=disruption.label, server_args=restart)
        run = f"{i:02d}-{kind}"
        if progress:
            print(
                f"[{i}/{len(kinds)}] {disruption.label}: {scenario}, {spec.load.users} users, {seconds:g} s",
                file=progress,
            )
        row = run_one(spec, root / run, run, machine, progress, during=_disrupt_at(disruption, moments))
        if progress:
            print(f"      {row['requests']} requests, {row['failures']} failed", file=progress, flush=True)
    write_summary(root)
    return restart_runs(load_runs(root))


def _disrupt_at(disruption: Disruption, moments: list[float]) -> During:
    """The callback for ``run_one``: at each moment on the run's clock, SIGHUP the primary or SIGKILL a worker."""

    def disrupt(run: LiveRun) -> None:
        for moment in moments:
            if not run.wait_until(moment):
                return
            if disruption.action == "hup":
                os.kill(run.pid, signal.SIGHUP)
                run.record("SIGHUP to the primary")
            else:
                victim = min(run.worker_pids())
                os.kill(victim, signal.SIGKILL)
                run.record(f"SIGKILL to worker {victim}")

    return disrupt


def restart_runs(runs: Runs) -> RestartRuns:
    """Restart runs as stored: per run its kind, requests, failures and the errors Locust saw."""
    kinds = {d.label: d.name for d in DISRUPTIONS.values()}
    rows = []
    for row in runs.summary.itertuples():
        failures_path = runs.root / row.run / "locust_failures.csv"
        errors = {}
        if failures_path.exists():
            failed = pd.read_csv(failures_path)
            errors = {str(r.Error)[:80]: int(r.Occurrences) for r in failed.itertuples()}
        rows.append(
            {
                "run": row.run, "label": row.label, "kind": kinds.get(row.label, row.label),
                "requests": int(row.requests), "failures": int(row.failures),
                "failed_pct": round(100 * row.failures / max(1, row.requests), 3),
                "errors": "; ".join(f"{n} x {e}" for e, n in errors.items()),
            }
        )  # fmt: skip
    return RestartRuns(runs, pd.DataFrame(rows))


# -- respawn time ------------------------------------------------------------------------------


def respawn_times(kills: int = 6, *, workers: int = 2, pause_s: float = 0.5) -> pd.DataFrame:
    """SIGKILL a worker (taking the slots in turn) and time until its replacement says it serves.

    The replacement waits out the crash backoff first (100 ms, then x1.5 per crash of the same
    slot within 30 s); ``backoff_ms`` is that delay, read from the primary's log.
    """
    port, admin_port = free_port(), free_port()
    argv = python_module(
        "servers.cluster", "--port", str(port), "--workers", str(workers), "--admin-port", str(admin_port)
    )
    health_url = f"http://127.0.0.1:{admin_port}/cluster-health"
    rows = []
    log_path = new_results_dir("respawn") / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with ManagedProcess(argv, log_path=log_path) as server:
        wait_until_serving(f"http://127.0.0.1:{port}/health", server, ready_line="cluster ready")
        for kill in range(kills):
            slot = kill % workers
            victim = next(w["pid"] for w in _health(health_url)["workers"] if w["slot"] == slot)
            killed = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            while True:
                serving = [w for w in _health(health_url)["workers"] if w["slot"] == slot and w["state"] == "serving"]
                if serving and serving[0]["pid"] != victim:
                    break
                if time.monotonic() - killed > 20:
                    raise TimeoutError(f"no replacement for worker {victim}:\n{server.log_text()}")
                time.sleep(0.005)
            rows.append(
                {"kill": kill + 1, "slot": slot, "pid": victim, "new_pid": serving[0]["pid"],
                 "seconds": round(time.monotonic() - killed, 4)}
            )  # fmt: skip
            time.sleep(pause_s)
        delays = [int(ms) for ms in re.findall(r"starting a new one in (\d+) ms", server.log_text())]
    table = pd.DataFrame(rows)
    table["backoff_ms"] = delays[: len(table)] + [None] * (len(table) - len(delays))
    return table


def _health(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=2) as resp:
        return json.load(resp)
