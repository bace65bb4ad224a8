"""A burst of keep-alive clients that all connect at the same moment: does every worker get some?

For each cluster policy (``shared``, ``shared-one`` where the cluster has it, ``reuseport``,
``rr``), for gunicorn, and for one process as the baseline: K trials of N keep-alive clients
(``loadtests/burst.py``, Locust with ``-u N -r N``: every user starts at once), each trial a few
seconds of closed-loop ``GET /work?ms=10``. Per trial: connections and responses per worker pid,
throughput, and Locust's own CPU.

How the trials are made honest and fast: the server starts once per policy (and is checked to
serve from every worker first); each trial is a new Locust process, so every burst opens fresh
connections, while the workers sit idle in ``accept`` between trials, as they do before a class
starts its load. Starting Locust costs about 1.5 s of one core, before any connection is made.

Every trial is stored: results/burst-<time>/<NN-target>/trial-<KK>/ (Locust's CSVs and log,
responses and connections per worker), with trials.csv, workers.csv and meta.json at the top;
``load_burst`` reads a folder back into the same result.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd
import psutil

from corelab.loadgen import LoadConfig, start_locust, wait_for_locust
from corelab.results import GENERATOR_BOUND_PCT, machine_info, new_results_dir, write_json
from corelab.sampler import Sampler, Samples
from corelab.scenarios import get_scenario
from corelab.variants import get_variant
from plumbing.procs import ManagedProcess, free_port, wait_until_serving

SCENARIO = get_scenario("burst")
# The policies a burst is measured for, in this order, when the cluster has them ("sticky" is rr
# for Socket.IO sessions: nothing new to learn here).
BURST_POLICIES = ("rr", "shared", "shared-one", "reuseport")
BASELINE = "single"
# A trial during which other processes on the machine used this much of a core (they do, on a
# shared machine) measured the machine as much as the policy: it is counted as noisy.
NOISY_OTHER_CPU_PCT = 25.0


@dataclass(frozen=True)
class Target:
    """What one series of bursts is aimed at: a variant, and the cluster's policy when it has one."""

    name: str  # "rr", "shared", ..., "gunicorn", "single"
    variant: str
    policy: str | None

    @property
    def label(self) -> str:
        if self.variant == "cluster":
            return f"cluster ({self.policy})"
        return "gunicorn (shared socket)" if self.variant == "gunicorn" else "one process"


def cluster_policies() -> tuple[str, ...]:
    """The cluster's policies that a burst tells something about, default first."""
    variant = get_variant("cluster")
    known = set(variant.policies)
    try:  # the cluster's own registry: a policy added there is measured without a change here
        from servers.cluster.config import POLICIES

        known |= set(POLICIES)
    except ImportError:
        pass
    default = variant.policies[0]
    return (default, *(p for p in BURST_POLICIES if p in known and p != default))


def default_targets() -> list[Target]:
    return [
        *(Target(p, "cluster", p) for p in cluster_policies()),
        Target("gunicorn", "gunicorn", None),
        Target(BASELINE, "single", None),
    ]


# -- the result ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TargetFigures:
    """The claim's numbers for one target."""

    target: str
    label: str
    workers: int
    trials: int
    idle_trials: int  # trials in which some worker got no connection
    min_rps: float
    median_rps: float
    # What an idle worker did to throughput: the median of the bursts that left one idle, and of the others.
    median_rps_idle: float | None
    median_rps_every_worker: float | None
    # Each trial's throughput over one process's median throughput; its minimum (None for the baseline).
    min_ratio: float | None
    median_ratio: float | None
    max_locust_cpu_pct: float
    generator_bound_trials: int
    # The most that other processes on the machine used during a trial (% of one core): noise to read beside min_rps.
    max_other_cpu_pct: float
    noisy_trials: int  # trials in which other processes used more than NOISY_OTHER_CPU_PCT

    def sentence(self) -> str:
        noise = f" ({self.noisy_trials} ran beside other processes' load)" if self.noisy_trials else ""
        if self.target == BASELINE:
            return f"{self.target}: one process, median {self.median_rps:.0f} req/s (the baseline){noise}"
        ratio = f", at worst {self.min_ratio:.2f}x one process" if self.min_ratio is not None else ""
        cost = ""
        if self.median_rps_idle is not None and self.median_rps_every_worker is not None:
            cost = (
                f" (those served {self.median_rps_idle:.0f} req/s, the others {self.median_rps_every_worker:.0f}:"
                " medians)"
            )
        return (
            f"{self.target}: {self.idle_trials} of {self.trials} bursts left a worker idle{cost}; "
            f"{self.min_rps:.0f} to {self.median_rps:.0f} req/s (min, median){ratio}{noise}"
        )


@dataclass
class BurstResult:
    root: Path
    clients: int
    seconds: float
    default_policy: str
    figures: dict[str, TargetFigures]  # by target name, in the order they ran
    # target, trial, rps, ratio, idle, workers_used, connections, failures, locust_cpu_pct,
    # generator_bound, server_cpu_pct, other_cpu_pct
    trials: pd.DataFrame
    workers: pd.DataFrame  # target, trial, worker (1..n), pid, connections, responses: trials x workers, tidy

    def sentence(self) -> str:
        """One line per target: how often a worker got nothing, and the throughput."""
        return "\n".join(f.sentence() for f in self.figures.values())

    def table(self) -> str:
        # Locust CPU and others: the most in any trial, in % of one core (others: the rest of the machine).
        lines = [
            f"{'target':<26} {'idle':>8} {'min rps':>8} {'median':>8} {'min x1':>7} {'Locust CPU':>10} {'others':>7}",
        ]
        for f in self.figures.values():
            ratio = f"{f.min_ratio:7.2f}" if f.min_ratio is not None else f"{'-':>7}"
            bound = "  generator-bound!" if f.generator_bound_trials else ""
            lines.append(
                f"{f.label:<26} {f.idle_trials:>3} of {f.trials:<2} {f.min_rps:8.1f} {f.median_rps:8.1f} {ratio} "
                f"{f.max_locust_cpu_pct:9.0f}% {f.max_other_cpu_pct:6.0f}%{bound}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"BurstResult({self.root}: {self.clients} clients, {self.seconds:g} s per burst)\n{self.table()}"


def figures_from(trials: pd.DataFrame, workers: pd.DataFrame, labels: dict[str, str]) -> dict[str, TargetFigures]:
    """Each target's figures, from the tidy tables (the same code for a fresh run and a stored one)."""
    out = {}
    for target, rows in trials.groupby("target", sort=False):
        has_ratio = rows["ratio"].notna().any() and target != BASELINE
        idle, every = rows[rows["idle"].astype(bool)]["rps"], rows[~rows["idle"].astype(bool)]["rps"]
        out[str(target)] = TargetFigures(
            target=str(target),
            label=labels.get(str(target), str(target)),
            workers=int(workers[workers["target"] == target]["worker"].max()),
            trials=len(rows),
            idle_trials=int(rows["idle"].sum()),
            min_rps=round(float(rows["rps"].min()), 1),
            median_rps=round(float(rows["rps"].median()), 1),
            median_rps_idle=round(float(idle.median()), 1) if len(idle) else None,
            median_rps_every_worker=round(float(every.median()), 1) if len(every) else None,
            min_ratio=round(float(rows["ratio"].min()), 3) if has_ratio else None,
            median_ratio=round(float(rows["ratio"].median()), 3) if has_ratio else None,
            max_locust_cpu_pct=round(float(rows["locust_cpu_pct"].max()), 1),
            generator_bound_trials=int(rows["generator_bound"].sum()),
            max_other_cpu_pct=round(float(rows["other_cpu_pct"].max()), 1),
            noisy_trials=int((rows["other_cpu_pct"] > NOISY_OTHER_CPU_PCT).sum()),
        )
    return out


# -- measuring -----------------------------------------------------------------------------------


def burst(
    targets: list[Target] | None = None,
    *,
    trials: int = 20,
    clients: int = 20,
    seconds: float = 3,
    workers: int = 2,
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
) -> BurstResult:
    """K bursts of ``clients`` simultaneous keep-alive clients against each target; see the module doc."""
    targets = targets if targets is not None else default_targets()
    root = Path(out) if out else new_results_dir("burst")
    root.mkdir(parents=True, exist_ok=True)
    all_trials, all_workers = [], []
    for i, target in enumerate(targets, start=1):
        _say(progress, f"[{i}/{len(targets)}] {target.label}: {trials} bursts of {clients} clients, {seconds:g} s each")
        folder = root / f"{i:02d}-{target.name}"
        folder.mkdir(parents=True, exist_ok=True)
        n = workers if get_variant(target.variant).multi_worker else 1
        port = free_port()
        command = get_variant(target.variant).command(port, n, target.policy)
        with ManagedProcess(command, log_path=folder / "server.log") as server:
            url = f"http://127.0.0.1:{port}"
            wait_until_serving(f"{url}/health", server, ready_line=get_variant(target.variant).ready_line)
            pids = serving_workers(url, server.pid, n)
            per_trial, per_worker = run_trials(
                url, pids, trials=trials, clients=clients, seconds=seconds, root=folder, server_pid=server.pid
            )
        all_trials.append(per_trial.assign(target=target.name))
        all_workers.append(per_worker.assign(target=target.name))
        idle = f"{int(per_trial['idle'].sum())} of {trials} bursts left a worker idle; " if n > 1 else ""
        _say(
            progress,
            f"      {idle}req/s min {per_trial['rps'].min():.0f}, median {per_trial['rps'].median():.0f}; "
            f"Locust CPU at most {per_trial['locust_cpu_pct'].max():.0f}%",
        )
    trials_df = _with_ratio(pd.concat(all_trials, ignore_index=True))
    workers_df = pd.concat(all_workers, ignore_index=True)
    trials_df = trials_df[["target", *(c for c in trials_df.columns if c != "target")]]
    workers_df = workers_df[["target", *(c for c in workers_df.columns if c != "target")]]
    trials_df.to_csv(root / "trials.csv", index=False)
    workers_df.to_csv(root / "workers.csv", index=False)
    default = get_variant("cluster").policies[0]
    labels = {t.name: t.label for t in targets}
    result = BurstResult(
        root, clients, seconds, default, figures_from(trials_df, workers_df, labels), trials_df, workers_df
    )
    write_json(
        root / "meta.json",
        {
            "what": "burst",
            "scenario": SCENARIO.name,
            "clients": clients,
            "seconds": seconds,
            "trials": trials,
            "workers": workers,
            "default_policy": default,
            "targets": [{"name": t.name, "variant": t.variant, "policy": t.policy, "label": t.label} for t in targets],
            "machine": machine_info(),
            "figures": {k: vars(v) for k, v in result.figures.items()},
        },
    )
    return result


def load_burst(root: str | Path) -> BurstResult:
    """A stored burst run (trials.csv, workers.csv, meta.json) as a result object."""
    root = Path(root)
    meta = json.loads((root / "meta.json").read_text())
    trials = pd.read_csv(root / "trials.csv")
    workers = pd.read_csv(root / "workers.csv")
    labels = {t["name"]: t["label"] for t in meta["targets"]}
    return BurstResult(
        root,
        meta["clients"],
        meta["seconds"],
        meta["default_policy"],
        figures_from(trials, workers, labels),
        trials,
        workers,
    )


def serving_workers(url: str, server_pid: int, workers: int, timeout: float = 20.0) -> list[int]:
    """The server's worker pids, once each has answered a request (a fresh connection per probe).

    One process serves by itself; a cluster's or gunicorn's workers are the primary's children.
    """
    deadline = time.monotonic() + timeout
    while True:
        pids = [server_pid] if workers == 1 else sorted(p.pid for p in psutil.Process(server_pid).children())
        if len(pids) == workers:
            seen: set[int] = set()
            for _ in range(20 * workers):
                seen.add(_served_by(url))
                if seen >= set(pids):
                    return pids
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every one of {workers} workers served within {timeout:g} s (pids {pids})")
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


def _with_ratio(trials: pd.DataFrame) -> pd.DataFrame:
    """Each trial's throughput over one process's median, when one process was measured."""
    base = trials[trials["target"] == BASELINE]["rps"]
    median = statistics.median(base) if len(base) else float("nan")
    return trials.assign(ratio=(trials["rps"] / median).round(3))


def _say(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)
