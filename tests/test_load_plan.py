"""The load plan on machines of 1 to 64 cores, with SMT and with a CPU quota, and the core count it
starts from (affinity, cgroup v1 and v2 quotas, SMT siblings), read from files laid out as Linux
lays them out."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest

from corelab.harness.plan import GENERATOR_BASELINE_CORES, GENERATOR_TARGET_PCT, USERS_PER_WORKER, load_plan
from plumbing.cores import CoreCount, cgroup_quota, core_count, physical_cores_of, usable_cores
from plumbing.procs import PROJECT_ROOT, python_module


@pytest.mark.parametrize("cores", [1, 2, 4, 8, 16, 32, 64])
def test_the_plan_keeps_every_worker_busy_and_no_generator_is_the_limit(cores: int) -> None:
    plan = load_plan("cpu", cores=cores)
    assert plan.workers == cores
    # Closed-loop users: every worker has one being served and more waiting, on any machine.
    assert plan.users >= USERS_PER_WORKER * plan.workers and not plan.users_bound
    # The generators can send what the server is expected to serve, each under the target share.
    assert plan.generators * plan.budget_rps * GENERATOR_TARGET_PCT / 100 >= plan.expected_rps
    assert plan.generators == max(1, math.ceil(plan.expected_rps / (plan.budget_rps * GENERATOR_TARGET_PCT / 100)))
    # The limit: the cores left after the generators, at 100 req/s a core (10 ms each).
    assert plan.limit_rps == pytest.approx((cores - plan.generator_cores) * 100, abs=0.2)
    assert plan.expected_rps == pytest.approx(plan.limit_rps, abs=0.2)
    fixed = plan.generators * GENERATOR_BASELINE_CORES
    assert plan.generator_cores == pytest.approx(fixed + plan.expected_rps / plan.budget_rps, abs=0.001)


def test_more_cores_need_more_generators() -> None:
    # A given budget: the test must not depend on what this machine has measured (results/).
    generators = [load_plan("cpu", cores=n, budget_rps=2000).generators for n in (2, 16, 64)]
    assert generators[0] == 1 and generators == sorted(generators) and generators[-1] > 1
    assert load_plan("cpu", cores=64, budget_rps=2000).generator_cores > 3  # and they take cores from the limit


def test_smt_siblings_count_once_in_the_limit() -> None:
    smt = CoreCount(ids=tuple(range(16)), logical=16, physical=8, physical_usable=8)
    plan = load_plan("cpu", cores=smt)
    assert plan.workers == 16  # a worker per logical CPU, as Node's availableParallelism() gives
    assert plan.compute_cores == 8 and plan.limit_rps < 800  # but eight cores' worth of pure Python
    assert any("SMT" in note for note in plan.notes)


def test_a_cpu_quota_caps_the_workers_and_the_limit() -> None:
    boxed = CoreCount(ids=tuple(range(64)), logical=64, physical=64, physical_usable=64, quota=4.0)
    assert boxed.usable == 4
    plan = load_plan("cpu", cores=boxed)
    assert plan.workers == 4 and plan.cores == 4 and plan.limit_rps < 400
    assert any("quota" in note for note in plan.notes)
    assert CoreCount(ids=(0, 1), logical=2, physical=2, physical_usable=2, quota=0.5).usable == 1


def test_overrides_are_kept_and_the_rest_follows() -> None:
    plan = load_plan("cpu", cores=2, workers=4, users=2)
    assert (plan.workers, plan.users) == (4, 2) and plan.users_bound
    assert any("users-bound" in note for note in plan.notes)
    assert load_plan("cpu", cores=2, workers=4).users == 16  # users follow the workers given
    with pytest.raises(ValueError, match="workers must be a whole number of processes, at least 1"):
        load_plan("cpu", workers=0)
    with pytest.raises(ValueError, match="one generator"):
        load_plan("shared_state", generators=2)


def test_scenarios_that_are_not_cpu_bound_have_no_limit() -> None:
    io = load_plan("io", cores=16)
    assert io.limit_rps is None and io.expected_rps == pytest.approx(io.users * 1000 / 50)
    assert load_plan("chat", cores=16).expected_rps is None and load_plan("chat", cores=16).generators == 1


def test_this_machines_count_matches_the_os() -> None:
    count = core_count()
    assert list(count.ids) == usable_cores()
    assert 1 <= count.usable <= len(count.ids) and 1 <= count.physical_usable <= len(count.ids)


def test_cgroup_v2_quota_is_read_from_the_process_cgroup_and_its_parents(tmp_path: Path) -> None:
    (tmp_path / "kubepods" / "pod1").mkdir(parents=True)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    (tmp_path / "kubepods" / "cpu.max").write_text("400000 100000\n")  # a parent's limit applies too
    (tmp_path / "kubepods" / "pod1" / "cpu.max").write_text("max 100000\n")
    proc = tmp_path / "cgroup"
    proc.write_text("0::/kubepods/pod1\n")
    assert cgroup_quota(tmp_path, proc) == 4.0
    (tmp_path / "kubepods" / "cpu.max").write_text("max 100000\n")
    assert cgroup_quota(tmp_path, proc) is None


def test_cgroup_v1_quota_is_the_cfs_quota_over_its_period(tmp_path: Path) -> None:
    cpu = tmp_path / "cpu" / "docker" / "abc"
    cpu.mkdir(parents=True)
    (cpu / "cpu.cfs_quota_us").write_text("150000\n")
    (cpu / "cpu.cfs_period_us").write_text("100000\n")
    proc = tmp_path / "cgroup"
    proc.write_text("4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n0::/\n")
    assert cgroup_quota(tmp_path, proc) == 1.5
    (cpu / "cpu.cfs_quota_us").write_text("-1\n")  # no quota
    assert cgroup_quota(tmp_path, proc) is None


def test_smt_siblings_are_read_from_the_topology(tmp_path: Path) -> None:
    # 4 logical CPUs, 2 physical cores: (0, 2) and (1, 3) are siblings, as Linux numbers them.
    for cpu, siblings in {0: "0,2", 1: "1,3", 2: "0,2", 3: "1,3"}.items():
        folder = tmp_path / f"cpu{cpu}" / "topology"
        folder.mkdir(parents=True)
        (folder / "thread_siblings_list").write_text(siblings + "\n")
    assert physical_cores_of((0, 1, 2, 3), tmp_path) == 2
    assert physical_cores_of((0, 1), tmp_path) == 2  # taskset -c 0,1: one thread of each core
    assert physical_cores_of((0, 2), tmp_path) == 1  # both threads of one core
    assert physical_cores_of((7,), tmp_path) is None  # no topology: the caller estimates


def test_the_plan_command_prints_a_table_and_json() -> None:
    table = subprocess.run(
        python_module("corelab", "plan", "--cores", "2", "8", "16", "32", "64"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert table.returncode == 0, table.stderr
    rows = [line.split() for line in table.stdout.splitlines() if line.split() and line.split()[0].isdigit()]
    assert [int(r[0]) for r in rows] == [2, 8, 16, 32, 64]
    one = subprocess.run(
        python_module("corelab", "plan", "--cores", "32", "--json"),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    plan = json.loads(one.stdout)
    assert {"cores", "workers", "users", "generators", "expected_rps", "limit_rps"} <= set(plan)
    assert plan["cores"] == plan["workers"] == 32 and plan["simulated"]


@pytest.mark.parametrize("argv", [["--cores", "0"], ["--scenario", "nope"], ["--workers", "0"]])
def test_the_plan_command_refuses_bad_input_in_one_line(argv: list[str]) -> None:
    proc = subprocess.run(
        python_module("corelab", "plan", *argv), cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error:"), proc.stderr
