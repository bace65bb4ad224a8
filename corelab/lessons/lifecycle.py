"""Measure a cluster's lifecycle under load: who gets the connections, and what a restart or a
crash costs while Locust keeps sending requests.

- ``balance``: each policy with keep-alive clients and with a new connection per request; per
  worker request and connection shares, and the max/min ratio.
- ``restart_under_load``: a rolling restart, a naive one (stop all, start all), a worker
  SIGKILLed, or gunicorn's own HUP, in the middle of a steady load; throughput and failures
  per second, and which worker pids served in each second.
- ``respawn_times``: SIGKILL a worker, time until its replacement reports serving.

Every run is stored in a folder (Locust CSVs, server log, meta.json), as corelab.run does.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd
import psutil

from corelab.loadgen import LoadConfig, read_locust_results, start_locust, wait_for_locust
from corelab.results import Runs, machine_info, new_results_dir, per_second, write_json
from corelab.run import bench
from corelab.scenarios import Scenario, get_scenario
from corelab.variants import get_variant
from plumbing.procs import ManagedProcess, free_port, python_module, wait_until_serving
from servers.cluster.policies import DEFAULT_POLICY

# -- who gets the connection -------------------------------------------------------------------

CLIENTS = {"keepalive": "keep-alive", "short": "new connection per request"}


@dataclass
class Balance:
    runs: Runs
    shares: pd.DataFrame  # run, policy, clients, pid, requests, connections, request_share, connection_share
    summary: pd.DataFrame  # run, policy, clients, rps, failures, requests_max_min, connections_max_min

    def __repr__(self) -> str:
        return self.summary.to_string(index=False)


def balance(
    policies: tuple[str, ...] = ("rr", "shared", "reuseport"),
    clients: tuple[str, ...] = ("keepalive", "short"),
    *,
    workers: int = 2,
    users: int = 20,
    seconds: float = 15,
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
) -> Balance:
    """Run the cluster with each policy under each kind of client; return the per-worker shares."""
    root = Path(out) if out else new_results_dir("balance")
    for kind in clients:
        runs = bench(
            ["cluster"], workers=workers, policies=list(policies), scenario=kind, seconds=seconds, users=users,
            out=root, progress=progress,
        )  # fmt: skip
    rows, summary = [], []
    for row in runs.summary.itertuples():
        run_dir = root / row.run
        requests = _read_counts(run_dir / "workers.json")
        connections = _read_counts(run_dir / "worker_connections.json")
        total_r, total_c = sum(requests.values()) or 1, sum(connections.values()) or 1
        for pid in sorted(set(requests) | set(connections)):
            rows.append(
                {
                    "run": row.run, "policy": row.policy, "clients": row.scenario, "pid": pid,
                    "requests": requests.get(pid, 0), "connections": connections.get(pid, 0),
                    "request_share": requests.get(pid, 0) / total_r,
                    "connection_share": connections.get(pid, 0) / total_c,
                }
            )  # fmt: skip
        summary.append(
            {
                "run": row.run, "policy": row.policy, "clients": row.scenario, "rps": row.rps,
                "failures": row.failures, "requests_max_min": _max_min(requests, workers),
                "connections_max_min": _max_min(connections, workers),
            }
        )  # fmt: skip
    return Balance(runs, pd.DataFrame(rows), pd.DataFrame(summary))


def _read_counts(path: Path) -> dict[int, int]:
    return {int(k): int(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


def _max_min(counts: dict[int, int], workers: int) -> float:
    """Busiest worker over least busy; a worker that got nothing makes it infinite."""
    values = sorted(counts.values())
    if len(values) < workers or not values or values[0] == 0:
        return float("inf")
    return round(values[-1] / values[0], 3)


# -- restarts and crashes under load -----------------------------------------------------------


@dataclass(frozen=True)
class Disruption:
    name: str
    label: str
    variant: str  # "cluster" or "gunicorn"
    restart: str | None  # the cluster's --restart mode
    action: str  # "hup": SIGHUP the primary; "kill": SIGKILL one worker


DISRUPTIONS = {
    d.name: d
    for d in (
        Disruption("rolling", "rolling restart (SIGHUP)", "cluster", "rolling", "hup"),
        Disruption("naive", "naive restart: stop all, start all", "cluster", "naive", "hup"),
        Disruption("crash", "a worker SIGKILLed", "cluster", "rolling", "kill"),
        Disruption("gunicorn", "gunicorn's SIGHUP", "gunicorn", None, "hup"),
    )
}


@dataclass
class RestartRuns:
    root: Path
    summary: pd.DataFrame  # run, label, kind, requests, failures, failed_pct, errors
    history: pd.DataFrame  # run, label, t, rps, failures_per_s
    timeline: pd.DataFrame  # run, label, t, pid, responses
    events: pd.DataFrame  # run, label, t, what

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
    scen = get_scenario(scenario)
    load = LoadConfig(users=users or scen.users, seconds=seconds, ramp_s=scen.ramp_s)
    moments = at or (seconds / 2,)
    machine = machine_info()
    for i, kind in enumerate(kinds, start=1):
        disruption = DISRUPTIONS[kind]
        run = f"{i:02d}-{kind}"
        if progress:
            print(
                f"[{i}/{len(kinds)}] {disruption.label}: {scenario}, {load.users} users, {seconds:g} s", file=progress
            )
        row = _run_disrupted(disruption, run, root / run, workers, policy, scen, load, moments, machine)
        if progress:
            print(f"      {row['requests']} requests, {row['failures']} failed", file=progress, flush=True)
    return load_restart_runs(root)


def _server_command(disruption: Disruption, port: int, workers: int, policy: str) -> tuple[list[str], str | None]:
    variant = get_variant(disruption.variant)
    argv = variant.command(port, workers, policy if variant.name == "cluster" else None)
    if disruption.restart:
        argv += ["--restart", disruption.restart]
    return argv, variant.ready_line


def _run_disrupted(
    disruption: Disruption,
    run: str,
    run_dir: Path,
    workers: int,
    policy: str,
    scen: Scenario,
    load: LoadConfig,
    moments: tuple[float, ...],
    machine: dict,
) -> dict:
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv, ready_line = _server_command(disruption, port, workers, policy)
    events = []
    with ManagedProcess(argv, log_path=run_dir / "server.log") as server:
        wait_until_serving(f"{url}/health", server, ready_line=ready_line)
        _wait_for_workers(server.pid, workers)
        started = time.time()
        with start_locust(scen, url, load, run_dir) as locust:
            for moment in sorted(moments):
                time.sleep(max(0.0, started + moment - time.time()))
                events.append({"t": round(time.time() - started, 3), "what": _disrupt(disruption, server.pid)})
            wait_for_locust(locust, load.seconds)
    stats, _history, _counts = read_locust_results(run_dir)
    agg = stats[stats["Name"] == "Aggregated"].iloc[0]
    failures_path = run_dir / "locust_failures.csv"
    errors = {}
    if failures_path.exists():
        failed = pd.read_csv(failures_path)
        errors = {str(r.Error)[:80]: int(r.Occurrences) for r in failed.itertuples()}
    requests, failures = int(agg["Request Count"]), int(agg["Failure Count"])
    row = {
        "run": run, "label": disruption.label, "kind": disruption.name, "requests": requests,
        "failures": failures, "failed_pct": round(100 * failures / max(1, requests), 3),
        "errors": "; ".join(f"{n} x {e}" for e, n in errors.items()),
    }  # fmt: skip
    write_json(
        run_dir / "meta.json",
        {
            "run": run, "label": disruption.label, "kind": disruption.name, "workers": workers, "policy": policy,
            "scenario": scen.name, "users": load.users, "seconds": load.seconds, "started_at": started,
            "events": events, "machine": machine, "summary": row,
        },
    )  # fmt: skip
    return row


def _wait_for_workers(server_pid: int, workers: int, timeout: float = 15.0) -> None:
    """gunicorn has no "all workers ready" line: wait until it has forked them all."""
    deadline = time.monotonic() + timeout
    while len(psutil.Process(server_pid).children()) < workers and time.monotonic() < deadline:
        time.sleep(0.05)


def _disrupt(disruption: Disruption, server_pid: int) -> str:
    if disruption.action == "hup":
        os.kill(server_pid, signal.SIGHUP)
        return "SIGHUP to the primary"
    victim = min(p.pid for p in psutil.Process(server_pid).children())
    os.kill(victim, signal.SIGKILL)
    return f"SIGKILL to worker {victim}"


def load_restart_runs(root: str | Path) -> RestartRuns:
    root = Path(root)
    summaries, histories, timelines, events = [], [], [], []
    for meta_path in sorted(root.glob("*/meta.json")):
        run_dir = meta_path.parent
        meta = json.loads(meta_path.read_text())
        tag = {"run": meta["run"], "label": meta["label"]}
        summaries.append(meta["summary"])
        raw = pd.read_csv(run_dir / "locust_stats_history.csv")
        history = per_second(raw[raw["Name"] == "Aggregated"], meta["started_at"])
        histories.append(history.assign(**tag)[["run", "label", "t", "rps", "failures_per_s"]])
        timeline = pd.read_csv(run_dir / "worker_timeline.csv")
        timelines.append(timeline.assign(t=timeline["t"] - meta["started_at"], **tag))
        events.append(pd.DataFrame([{**tag, **e} for e in meta["events"]], columns=["run", "label", "t", "what"]))
    if not summaries:
        raise FileNotFoundError(f"no runs under {root}")
    return RestartRuns(
        root,
        pd.DataFrame(summaries),
        pd.concat(histories, ignore_index=True),
        pd.concat(timelines, ignore_index=True)[["run", "label", "t", "pid", "responses"]],
        pd.concat(events, ignore_index=True),
    )


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
