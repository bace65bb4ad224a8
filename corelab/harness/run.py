"""One benchmark run, and a series of them: start a variant, load it, sample, stop, store.

Every process started here lives in its own process group and is stopped on success, on
error and on Ctrl-C (KeyboardInterrupt unwinds through the ``with`` blocks). What should happen
during the load (a restart, a SIGKILL, Redis stopped) is a callback handed to ``run_one``
(corelab.harness.during); every run, disrupted or not, writes the same folder.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import pandas as pd

from corelab.harness.during import During, during_load
from corelab.harness.loadgen import (
    LoadConfig,
    generator_bound,
    generator_processes,
    label_generator_roles,
    measured_rps,
    read_locust_results,
    start_locust,
    wait_for_locust,
)
from corelab.harness.plan import LoadPlan, load_plan
from corelab.harness.results import (
    Runs,
    load_runs,
    machine_info,
    new_results_dir,
    stored_summaries,
    write_json,
    write_summary,
)
from corelab.harness.sampler import Sampler, Samples
from corelab.harness.scenarios import Scenario, get_scenario
from corelab.harness.variants import Variant, get_variant
from corelab.live.notebook import LiveChoice, live_cores, live_wanted
from plumbing.procs import ManagedProcess, free_port, wait_until_serving
from plumbing.redis_server import redis_server


@dataclass(frozen=True)
class RunSpec:
    """What one run measures."""

    variant: Variant
    workers: int
    policy: str | None
    scenario: Scenario
    load: LoadConfig
    # Scenario settings, handed to Locust as CORELAB_<NAME> environment variables.
    params: tuple[tuple[str, str], ...] = ()
    # What the run is called where the variant's name would not say it (e.g. "a worker SIGKILLed").
    title: str | None = None
    # Arguments added to the server's command line (e.g. the cluster's --restart mode).
    server_args: tuple[str, ...] = ()
    # The load plan the workers, users and generators came from (stored in meta.json).
    load_plan: LoadPlan | None = None

    @property
    def label(self) -> str:
        if self.title:
            return self.title
        label = self.variant.name
        if self.variant.multi_worker:
            label += f" x{self.workers} ({self.policy})"
        if self.params:
            label += " " + " ".join(f"{k}={v}" for k, v in self.params)
        if self.load.generators > 1:
            label += f" {self.load.generators} generators"
        return label

    @property
    def slug(self) -> str:
        parts = [self.variant.name]
        if self.variant.multi_worker:
            parts += [f"w{self.workers}", str(self.policy)]
        parts += [f"{k}-{v}" for k, v in self.params]
        if self.load.generators > 1:
            parts.append(f"g{self.load.generators}")
        return "-".join([*parts, self.scenario.name])

    @property
    def locust_env(self) -> dict[str, str]:
        sized = {name: str(factor * self.workers) for name, factor in self.scenario.per_worker}
        return {f"CORELAB_{k.upper()}": v for k, v in {**sized, **dict(self.params)}.items()}


def run_specs(
    variants: Iterable[str],
    workers: int | None,
    policies: Sequence[str] | None,
    scenario: str,
    seconds: float,
    users: int | None,
    params: Sequence[dict[str, str]] = ({},),
    generators: int | None = None,
) -> list[RunSpec]:
    """The runs a bench call stands for: each variant, once per policy it takes, once per params.
    Workers, users and generators not given come from the load plan (corelab.harness.plan)."""
    scen = get_scenario(scenario)
    lp = load_plan(scen, workers=workers, users=users, generators=generators)
    given_workers = workers is not None
    workers = lp.workers
    load = LoadConfig(users=lp.users, seconds=seconds, ramp_s=scen.ramp_s, generators=lp.generators)
    specs = []
    for name in variants:
        variant = get_variant(name)
        for p in params:
            settings = tuple((str(k), str(v)) for k, v in p.items())
            if not variant.multi_worker:
                # The same load; the limit is one worker's.
                one = load_plan(scen, workers=1, users=lp.users, generators=lp.generators)
                specs.append(RunSpec(variant, 1, None, scen, load, settings, load_plan=one))
                continue
            # Workers given are the variant's own (per host for the fleet); planned ones are shared out.
            n = workers if given_workers else variant.workers_for(workers)
            for policy in policies or variant.policies[:1]:
                if policy not in variant.policies:
                    raise ValueError(f"{name} has no policy {policy!r}: choose from {', '.join(variant.policies)}")
                specs.append(RunSpec(variant, n, policy, scen, load, settings, load_plan=lp))
    return specs


def bench(
    variants: Iterable[str] = ("single", "cluster"),
    *,
    workers: int | None = None,
    policies: Sequence[str] | None = None,
    scenario: str = "cpu",
    seconds: float = 15,
    users: int | None = None,
    params: Sequence[dict[str, str]] = ({},),
    out: str | Path | None = None,
    progress: TextIO | None = sys.stdout,
    redis: bool = False,
    generators: int | None = None,
    live: LiveChoice = "auto",
) -> Runs:
    """Run each variant under the same Locust load and return the runs as tables.

    ``workers``, ``users`` and ``generators`` default to the load plan's for this machine and scenario
    (corelab.harness.plan: one worker per usable core, enough users to keep each busy, enough
    Locust processes that none is the limit); the plan is stored in each run's meta.json.
    ``params`` runs the scenario once per dict of settings (e.g. ``[{"offload": "none"},
    {"offload": "process"}]``); a scenario reads them as CORELAB_<NAME> variables.
    ``out`` is the folder the runs are written to (default: results/<timestamp>); runs already
    in it are kept, and the returned tables and summary.csv cover them all.
    ``redis=True`` gives the runs a real Redis (REDIS_URL, else one started for this call and
    stopped after); the server and Locust find it in CORELAB_REDIS_URL.
    ``generators=K`` (K > 1) sends the load from K Locust worker processes under a master
    (corelab.harness.loadgen); each one's CPU is recorded and any one past 80% of a core marks the run.
    ``live`` shows each run's per-core heatmap growing in JupyterLab while it goes (corelab.live.notebook):
    "auto" where a person looks at a notebook, not in headless runs or scripts; True or False to choose.
    """
    show_live = live_wanted(live)  # decided before anything starts: a bad value costs no run
    specs = run_specs(variants, workers, policies, scenario, seconds, users, params, generators)
    for variant in {spec.variant for spec in specs}:
        variant.check_machine()  # e.g. the fleet's loopback addresses: one line now, not a failed run later
    root = Path(out) if out else new_results_dir()
    root.mkdir(parents=True, exist_ok=True)
    machine = machine_info()
    first = len(stored_summaries(root)) + 1
    with redis_server(progress=progress) if redis else nullcontext() as store:
        redis_used = store.info() if store else None
        env = {"CORELAB_REDIS_URL": store.url, "CORELAB_REDIS_SOURCE": store.label()} if store else {}
        for i, spec in enumerate(specs, start=first):
            run_dir = root / f"{i:02d}-{spec.slug}"
            _say(
                progress,
                f"[{i - first + 1}/{len(specs)}] {spec.label}: {spec.scenario.name}, "
                f"{spec.load.users} users, {spec.load.seconds:g} s",
            )
            row = run_one(
                spec, run_dir, f"{i:02d}-{spec.slug}", machine, progress, env, live=show_live, redis=redis_used
            )
            bound = "  (generator-bound)" if row["generator_bound"] else ""
            if spec.scenario.name == "chat":
                # Locust's chat rows mix handshakes (5 s timeouts) with deliveries: a p99 over both is
                # no latency, and a lost delivery is not the server failing. chat_outcome splits them.
                said = f"{row['failures']} lost deliveries or failed handshakes (chat_outcome splits them)"
            else:
                said = f"p99 {row['p99_ms']:.0f} ms, {row['failures']} failures"
            _say(progress, f"      {row['rps']:.1f} req/s, {said}{bound}")
    write_summary(root)
    return load_runs(root)


def run_one(
    spec: RunSpec,
    run_dir: Path,
    run_id: str,
    machine: dict,
    progress: TextIO | None,
    env: dict | None = None,
    *,
    live: bool = False,
    during: During | None = None,
    redis: dict | None = None,
) -> dict:
    """Start the server, load it, sample, stop, store; return the summary row.

    ``during`` is what should happen while the load goes (corelab.harness.during): it gets the live server
    and the run's clock, and what it records goes to meta.json's ``events``. ``redis`` is the Redis the
    run used (RedisServer.info(): which server, its version, where it came from), kept in meta.json.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*spec.variant.command(port, spec.workers, spec.policy), *spec.server_args]
    # The server gets the run's settings too (e.g. CORELAB_STATE=redis), and ``env`` (e.g. the Redis).
    env = {**spec.locust_env, **(env or {})}
    # The server dies with us even if we are SIGKILLed (a notebook kernel restarted mid-run).
    with ManagedProcess(command, log_path=run_dir / "server.log", env=env, die_with_parent=True) as server:
        wait_until_serving(f"{url}/health", server, ready_line=spec.variant.ready_line)
        sampler = Sampler({"server": server.pid})
        with start_locust(spec.scenario, url, spec.load, run_dir, env) as locust:
            sampler.watch("generator", locust.pid)
            started_at = time.time()
            sampler.start()
            # Locust's start-up comes on top of the run's seconds: the live time axis allows for it.
            with (
                during_load(during, server, url, started_at) as live_run,
                live_cores(live, spec.label, expected_s=spec.load.seconds + 2) as view,
            ):
                try:
                    wait_for_locust(locust, spec.load.seconds, progress)
                finally:
                    samples = sampler.stop()
                if view is not None:
                    view.finish(samples.cores)
                    _say(progress, f"      {view.cost_line()}")
    return _store(spec, run_dir, run_id, machine, samples, started_at, live_run.events, redis)


def _store(
    spec: RunSpec,
    run_dir: Path,
    run_id: str,
    machine: dict,
    samples: Samples,
    started_at: float,
    events: list[dict],
    redis: dict | None = None,
) -> dict:
    stats, history, counts = read_locust_results(run_dir)
    samples.cores.to_csv(run_dir / "cores.csv", index=False)
    samples.procs = label_generator_roles(samples.procs, run_dir)
    samples.procs.to_csv(run_dir / "procs.csv", index=False)
    agg = stats[stats["Name"] == "Aggregated"].iloc[0]

    # CPU figures cover only the seconds in which requests flowed, not Locust's start-up.
    live = history[(history["Name"] == "Aggregated") & (history["Total Request Count"] > 0)]
    # A history row counts what was done up to its timestamp, so requests began up to 1 s earlier.
    t_from = (live["Timestamp"].min() - 1 - started_at) if not live.empty else 0.0
    t_to = (live["Timestamp"].max() - started_at) if not live.empty else samples.seconds
    window = samples.procs[(samples.procs["t"] >= t_from) & (samples.procs["t"] <= t_to)]
    per_tick = window.groupby(["group", "t"])["cpu_pct"].sum().groupby("group").mean()
    server_cpu = float(per_tick.get("server", 0.0))
    generator_cpu = float(per_tick.get("generator", 0.0))
    generators = generator_processes(run_dir, window)
    shares = sorted(counts.values())
    lp = spec.load_plan
    row = {
        "run": run_id,
        "label": spec.label,
        "variant": spec.variant.name,
        "workers": spec.workers,
        "policy": spec.policy or "-",
        "scenario": spec.scenario.name,
        "params": " ".join(f"{k}={v}" for k, v in spec.params),
        "users": spec.load.users,
        "seconds": spec.load.seconds,
        "requests": int(agg["Request Count"]),
        "failures": int(agg["Failure Count"]),
        "rps": round(measured_rps(run_dir, history, spec.load), 2),
        "p50_ms": float(agg["50%"]),
        "p99_ms": float(agg["99%"]),
        "server_cpu_pct": round(server_cpu, 1),
        "generator_cpu_pct": round(generator_cpu, 1),
        "generators": spec.load.generators,
        "generator_max_cpu_pct": max((p["cpu_pct"] for p in generators if p["role"] != "master"), default=0.0),
        "generator_bound": generator_bound(generators),
        "worker_max_min": round(shares[-1] / shares[0], 3) if len(shares) > 1 and shares[0] else None,
        "sampler_overhead_pct": round(samples.overhead_pct, 2),
        "limit_rps": lp.limit_rps if lp is not None else None,
        "users_bound": users_bound(spec, history),
        "idle_workers": idle_workers(spec, counts),
    }
    meta = {
        "run": run_id,
        "label": spec.label,
        "variant": spec.variant.name,
        # What served it: this Python, or Node and its version (servers/node), so runs compare honestly.
        "runtime": spec.variant.runtime(),
        "workers": spec.workers,
        "policy": spec.policy,
        "scenario": spec.scenario.name,
        "params": dict(spec.params),
        "users": spec.load.users,
        "seconds": spec.load.seconds,
        "sampler_started_at": started_at,
        # What a ``during`` callback did, on the run's clock: [{"t": 12.0, "what": "SIGHUP to the primary"}].
        "events": events,
        "machine": machine,
        "generators": generators,
        "summary": row,
        "plan": lp.fields() if lp is not None else None,
        "redis": redis,
    }
    write_json(run_dir / "meta.json", meta)
    return row


def users_bound(spec: RunSpec, history: pd.DataFrame) -> bool:
    """The users, not the server, set the pace: fewer closed-loop users than workers, or fewer users
    reached than asked for (Locust could not start them all)."""
    if spec.scenario.saturating and spec.load.users < spec.workers:
        return True
    reached = history.loc[history["Name"] == "Aggregated", "User Count"]
    return bool(len(reached) and int(reached.max()) < spec.load.users)


def idle_workers(spec: RunSpec, counts: dict[str, int]) -> int | None:
    """Workers that served nothing (every response names its worker: X-Worker-Pid); None where the
    run did not count responses per worker, or its workers are not one server's (the fleet)."""
    if not counts or spec.variant.name == "fleet":
        return None
    return max(0, spec.workers - sum(1 for n in counts.values() if n > 0))


def _say(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)
