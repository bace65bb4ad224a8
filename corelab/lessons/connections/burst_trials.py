"""Bursts against a server already serving: each a new Locust process whose users all start at once.

Per trial: connections and responses per worker pid (from Locust's per-worker counts), Locust's
rate, and CPU while requests flowed (the server's, Locust's, and the rest of the machine's, from
corelab.harness.sampler). corelab.lessons.connections.bursts runs these against each target.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pandas as pd

from corelab.harness.loadgen import LoadConfig, start_locust, wait_for_locust
from corelab.harness.results import GENERATOR_BOUND_PCT
from corelab.harness.sampler import Sampler, Samples
from corelab.harness.scenarios import get_scenario

SCENARIO = get_scenario("burst")


def serving_workers(url: str, server_pid: int, workers: int, timeout: float = 20.0) -> list[int]:
    """The ``workers`` pids that answer (X-Worker-Pid), once each has answered a request on a fresh
    connection. Read from the answers, not the process tree: a Python cluster's workers are the
    primary's children, Node's are under the Node primary that `python -m servers.node` started."""
    deadline = time.monotonic() + timeout
    seen: set[int] = set()
    while True:
        for _ in range(20 * workers):
            seen.add(_served_by(url))
            if len(seen) >= workers:
                return sorted(seen)
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"only {len(seen)} of {workers} workers served within {timeout:g} s (pids {sorted(seen)})"
            )
        time.sleep(0.1)


def _served_by(url: str) -> int:
    request = urllib.request.Request(f"{url}/health", headers={"Connection": "close"})
    with urllib.request.urlopen(request, timeout=2) as resp:
        return int(resp.headers["X-Worker-Pid"])


def run_trials(
    url: str, pids: list[int], *, trials: int, clients: int, seconds: float, root: Path, server_pid: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``trials`` bursts against a server already serving from ``pids``: a table per trial and per worker.

    Each burst is a new Locust process whose ``clients`` users all start at once. With
    ``server_pid`` the server's CPU is sampled too, and so what the rest of the machine used.
    """
    load = LoadConfig(users=clients, seconds=seconds, ramp_s=0)
    rows, worker_rows = [], []
    for k in range(1, trials + 1):
        run_dir = root / f"trial-{k:02d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        sampler = Sampler({"server": server_pid} if server_pid else {})
        with start_locust(SCENARIO, url, load, run_dir) as locust:
            sampler.watch("generator", locust.pid)
            started_at = time.time()
            sampler.start()
            try:
                wait_for_locust(locust, seconds)
            finally:
                samples = sampler.stop()
        trial, per_worker = _read_trial(run_dir, pids, samples, started_at)
        rows.append({"trial": k, **trial})
        worker_rows += [{"trial": k, **w} for w in per_worker]
        # Let the workers see the last burst's connections close before the next one arrives.
        time.sleep(0.3)
    return pd.DataFrame(rows), pd.DataFrame(worker_rows)


def _read_json(path: Path) -> dict[int, int]:
    return {int(k): int(v) for k, v in json.loads(path.read_text()).items()} if path.exists() else {}


def _read_trial(run_dir: Path, pids: list[int], samples: Samples, started_at: float) -> tuple[dict, list[dict]]:
    connections = _read_json(run_dir / "worker_connections.json")
    responses = _read_json(run_dir / "workers.json")
    stats = pd.read_csv(run_dir / "locust_stats.csv")
    agg = stats[stats["Name"] == "Aggregated"].iloc[0]
    # Locust's own rate: requests over the time from its users' start to its last request. With
    # no ramp that is the whole burst; a core left idle costs throughput for all of it.
    rps = float(agg["Requests/s"])
    # CPU while requests flowed: the whole seconds of the per-second response counts, not Locust
    # importing and starting (about 1.5 s of a core) nor writing its CSVs at the end.
    timeline = pd.read_csv(run_dir / "worker_timeline.csv")
    seconds = sorted(timeline["t"].unique())
    whole = seconds[1:-1] or seconds or [started_at]
    t_from, t_to = whole[0] - started_at, whole[-1] + 1 - started_at
    cpu = _mean_cpu(samples, t_from, t_to)
    strangers = set(connections) - set(pids)
    if strangers:  # a response from a pid that is not a known worker: a worker was replaced mid-run
        raise RuntimeError(f"responses from unknown worker pids {sorted(strangers)} (workers: {pids})")
    used = sum(1 for p in pids if connections.get(p, 0) > 0)
    trial = {
        "rps": round(rps, 2),
        "idle": used < len(pids),
        "workers_used": used,
        "connections": sum(connections.values()),
        "failures": int(agg["Failure Count"]),
        "locust_cpu_pct": cpu["generator"],
        "generator_bound": cpu["generator"] > GENERATOR_BOUND_PCT,
        "server_cpu_pct": cpu["server"],
        # What other processes on the machine used meanwhile (all cores, in % of one): a slow
        # trial with a busy machine is noise, a slow trial with an idle worker is the lesson.
        "other_cpu_pct": cpu["other"],
    }
    per_worker = [
        {"worker": j, "pid": pid, "connections": connections.get(pid, 0), "responses": responses.get(pid, 0)}
        for j, pid in enumerate(pids, start=1)
    ]
    return trial, per_worker


def _mean_cpu(samples: Samples, t_from: float, t_to: float) -> dict[str, float]:
    """Mean CPU (% of one core) of each watched tree, and of everything else, between two sampler times."""
    procs = samples.procs[(samples.procs["t"] >= t_from) & (samples.procs["t"] <= t_to)]
    cores = samples.cores[(samples.cores["t"] >= t_from) & (samples.cores["t"] <= t_to)]
    per_tick = procs.groupby(["group", "t"])["cpu_pct"].sum().groupby("group").mean()
    generator, server = float(per_tick.get("generator", 0.0)), float(per_tick.get("server", 0.0))
    busy = float(cores.groupby("t")["util_pct"].sum().mean()) if not cores.empty else 0.0
    other = max(0.0, busy - generator - server - samples.overhead_pct)
    return {"generator": round(generator, 1), "server": round(server, 1), "other": round(other, 1)}
