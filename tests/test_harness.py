"""corelab's harness: the sampler, the Locust scenarios, and a whole bench run through the CLI."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from corelab.harness.loadgen import LoadConfig, locust_command
from corelab.harness.results import SUMMARY_COLUMNS, load_runs
from corelab.harness.sampler import Sampler
from corelab.harness.scenarios import get_scenario
from corelab.harness.variants import VARIANTS
from plumbing.cores import usable_cores
from plumbing.procs import PROJECT_ROOT, ManagedProcess, python_module

LOCUST = str(Path(sys.executable).parent / "locust")


def test_the_sampler_sees_a_busy_core_as_busy_and_an_idle_process_as_idle() -> None:
    with (
        ManagedProcess([sys.executable, "-c", "while True: pass"]) as busy,
        ManagedProcess([sys.executable, "-c", "import time; time.sleep(60)"]) as idle,
    ):
        # Pinned to one core: otherwise the scheduler may move the busy process between cores (it does
        # when anything else runs), and no single core is busy for long, though the process is.
        core = usable_cores()[-1]
        if hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(busy.pid, {core})
        sampler = Sampler({"busy": busy.pid, "idle": idle.pid}, interval=0.1).start()
        time.sleep(2.5)
        samples = sampler.stop()
    procs = samples.procs[samples.procs["t"] > 0.5]  # skip the first readings
    assert procs[procs["group"] == "busy"]["cpu_pct"].mean() > 70
    assert procs[procs["group"] == "idle"]["cpu_pct"].mean() < 5
    per_core = samples.cores[samples.cores["t"] > 0.5].groupby("core")["util_pct"].mean()
    assert (per_core[core] if hasattr(os, "sched_setaffinity") else per_core.max()) > 60, per_core
    assert 15 <= samples.cores["t"].nunique() <= 30  # 10 Hz over 2.5 s
    assert samples.overhead_pct < 5  # the benchmark reports the real figure (target < 1%)


def test_the_sampler_follows_processes_that_come_and_go() -> None:
    script = (
        "import subprocess, sys, time; time.sleep(0.5); "
        "subprocess.run([sys.executable, '-c', 'while True: pass'], timeout=2)"
    )
    with ManagedProcess([sys.executable, "-c", script]) as parent:
        sampler = Sampler({"tree": parent.pid}, interval=0.1, tree_every=0.5).start()
        time.sleep(3.0)
        samples = sampler.stop()
    children = samples.procs[(samples.procs["group"] == "tree") & (samples.procs["role"] == "child")]
    assert not children.empty and children["cpu_pct"].max() > 50


def test_locust_lists_every_scenario_in_the_folder() -> None:
    listed = subprocess.run(
        [LOCUST, "-f", "loadtests/", "--list"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    names = {line.strip() for line in listed.stdout.splitlines()[1:] if line.strip()}
    assert {"CpuUser", "HelloUser", "IoUser"} <= names


def test_user_class_names_are_unique_across_the_folder() -> None:
    names = []
    for path in (PROJECT_ROOT / "loadtests").glob("[!_]*.py"):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.name} needs a docstring saying what it teaches"
        names += [node.name for node in tree.body if isinstance(node, ast.ClassDef) and node.name.endswith("User")]
    assert len(names) == len(set(names)), names


def test_users_start_at_once_unless_the_scenario_models_clients_arriving() -> None:
    # No ramp hides a policy that balances a burst badly: "cpu" starts every user at once, as
    # `locust -u 8 -r 8` does; "keepalive" models clients arriving over two seconds.
    for name, spawn_rate in (("cpu", "8"), ("burst", "20"), ("keepalive", "10")):
        scenario = get_scenario(name)
        load = LoadConfig(users=scenario.users, seconds=5, ramp_s=scenario.ramp_s)
        argv = locust_command(scenario, "http://127.0.0.1:1", load, Path("locust"))
        assert argv[argv.index("--spawn-rate") + 1] == spawn_rate, name


def test_bench_through_the_cli_stores_tidy_runs(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    argv = ["bench", "--variant", "single", "--variant", "cluster", "--workers", "2", "--scenario", "cpu"]
    proc = subprocess.run(
        python_module("corelab", *argv, "--seconds", "5", "--out", str(out)),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    default_policy = VARIANTS["cluster"].policies[0]
    assert "[1/2] single" in proc.stdout and f"[2/2] cluster x2 ({default_policy})" in proc.stdout

    summary = pd.read_csv(out / "summary.csv")
    required = {"variant", "workers", "policy", "scenario", "requests", "failures", "rps", "p50_ms", "p99_ms"}
    required |= {"server_cpu_pct", "generator_cpu_pct", "generator_bound", "limit_rps", "users_bound", "idle_workers"}
    assert required <= set(summary.columns)
    assert list(summary["variant"]) == ["single", "cluster"]
    single, cluster = summary.iloc[0], summary.iloc[1]
    assert single.requests > 50 and cluster.requests > 50
    assert single.failures == 0 and cluster.failures == 0
    assert 50 <= single.server_cpu_pct <= 115  # one process: one core at most
    assert cluster.server_cpu_pct > 125  # two workers: well past one core
    assert cluster.rps > 1.3 * single.rps  # the benchmark reports the real ratio
    assert cluster.idle_workers == 0 and not cluster.users_bound  # the plan gave 2 workers enough users
    assert 0 < single.limit_rps < cluster.limit_rps <= 200  # one worker's limit, then two cores' less Locust's
    assert cluster.generator_cpu_pct > 0 and bool(cluster.generator_bound) == (cluster.generator_cpu_pct > 80)

    for name in ("cores.png", "throughput.png", "throughput-by-variant.png", "requests-per-worker.png"):
        assert (out / name).stat().st_size > 5000
    run_dir = next(out.glob("02-*"))
    meta = json.loads((run_dir / "meta.json").read_text())
    assert {"variant", "workers", "policy", "scenario", "users", "seconds"} <= set(meta)
    assert {"cores", "python", "git_commit"} <= set(meta["machine"])
    assert meta["plan"]["workers"] == 2 and meta["plan"]["users"] == meta["users"]  # run 02: the cluster's
    for name in ("locust_stats.csv", "locust_stats_history.csv", "cores.csv", "procs.csv", "workers.json"):
        assert (run_dir / name).exists()

    runs = load_runs(out)
    assert list(runs.summary.columns) == SUMMARY_COLUMNS
    assert set(runs.cores["run"]) == set(runs.summary["run"]) and set(runs.history["label"]) == set(
        runs.summary["label"]
    )
    workers = runs.workers[runs.workers["run"] == cluster.run]
    assert len(workers) == 2 and workers["responses"].min() > 0  # both workers served


@pytest.mark.parametrize(
    "argv", [["bench", "--seconds", "1"], ["bench", "--variant", "nope"], ["bench", "--workers", "0"], ["frobnicate"]]
)
def test_bad_cli_input_is_a_clear_error(argv: list[str]) -> None:
    proc = subprocess.run(python_module("corelab", *argv), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "error:" in proc.stderr and "Traceback" not in proc.stderr


def test_ctrl_c_stops_everything(tmp_path: Path) -> None:
    argv = python_module("corelab", "bench", "--variant", "cluster", "--seconds", "30", "--out", str(tmp_path / "r"))
    with ManagedProcess(argv, log_path=tmp_path / "bench.log") as bench:
        deadline = time.monotonic() + 30
        while "[1/1]" not in bench.log_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # server and Locust are running now
        bench.popen.send_signal(signal.SIGINT)
        assert bench.wait(20) == 130
    assert "every server and load generator has been stopped" in bench.log_text()
    # The autouse leak check then fails this test if a server, worker or Locust survived.
