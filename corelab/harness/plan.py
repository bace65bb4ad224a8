"""One load plan: from the usable cores and what a request costs, how to load a server so that the
server, not the users or Locust, is what a run measures.

    plan = load_plan("cpu")            # this machine's cores
    plan = load_plan("cpu", cores=32)  # what a 32-core class machine would run
    plan.workers, plan.users, plan.generators, plan.expected_rps, plan.limit_rps

The rules, each a line below:

- **workers**: one per usable core (the affinity mask, capped by a cgroup quota: plumbing.cores).
- **users**: a closed-loop scenario keeps every worker busy only if every worker has a request
  waiting when it finishes one: ``USERS_PER_WORKER`` users per worker (each user holds one
  keep-alive connection), never fewer than the scenario's own default.
- **generators**: Locust processes enough that none passes ``GENERATOR_TARGET_PCT`` of a core, from
  the expected req/s and what one Locust process sends per core (its *budget*, measured on this
  machine by ``python -m corelab generators``, else the reference figure below).
- **limit**: on a machine the generators share, the server can have the cores left after them
  (their fixed cost and their cost per request):
  ``limit_rps = (compute cores - generator cores) * 1000 / cpu_ms``. SMT siblings count as one
  core (a second thread adds 0-30% on pure-Python work), so a run may pass the limit a little.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from corelab.harness.scenarios import Scenario, get_scenario
from corelab.text_table import Column, text_table
from plumbing.cores import CoreCount, core_count
from plumbing.procs import PROJECT_ROOT

# Closed-loop users per worker: one being served, one waiting, and two in flight on the wire.
USERS_PER_WORKER = 4
# Plan each Locust process to stay under this share of a core: 80% marks a run generator-bound.
GENERATOR_TARGET_PCT = 60.0
# Requests a second one Locust process sends for a full core of its own, by client, measured on the
# 2-vCPU AMD EPYC VM with Locust 2.47 (CPython 3.11): FastHttpUser 11,800 through the kit's own
# scenario and counters (``python -m corelab generators``: 11,809 at 99% of a core); HttpUser
# (requests) 0.26 of FastHttpUser on a bare GET / (3,070 against 11,850 req/s, each at a full core).
# A client with no figure here (the chat's Socket.IO) is paced, and its plan needs no budget.
REFERENCE_BUDGET_RPS = {"fast": 11800.0, "requests": 3070.0}
# What a Locust process costs whatever its rate (its stats, timers and users' greenlets), in cores:
# `make demo` measured 5-6% of a core at 192 req/s, of which the requests are under 2%.
GENERATOR_BASELINE_CORES = 0.04
# Where ``python -m corelab generators`` writes this machine's own figure.
BUDGET_FILE = PROJECT_ROOT / "results" / "generator-budget.json"


@dataclass(frozen=True)
class LoadPlan:
    """How one scenario is run on this machine (or on a machine of ``cores`` cores)."""

    scenario: str
    cores: int  # usable cores: the affinity mask, capped by a cgroup quota
    compute_cores: float  # of those, cores' worth of pure-Python work (SMT siblings count once)
    workers: int
    users: int
    generators: int  # Locust processes that send requests (K > 1: under a master)
    budget_rps: float  # req/s one Locust process sends per core of its own, for this scenario's client
    budget_source: str
    cpu_ms: float  # the server's CPU per request (0: not CPU-bound)
    expected_rps: float | None  # what the plan expects the server to serve; None where not modelled
    generator_cores: float  # cores' worth the generators are expected to use
    limit_rps: float | None  # the most the server can serve on the cores left; None where not CPU-bound
    simulated: bool = False  # ``cores`` was given, not read from this machine
    notes: tuple[str, ...] = field(default=())

    @property
    def limit_cores(self) -> float:
        """Cores' worth left to the server after the generators."""
        return max(0.0, min(self.compute_cores, float(self.workers)) - self.generator_cores)

    @property
    def users_bound(self) -> bool:
        """Fewer closed-loop users than workers: some workers cannot be busy."""
        return self.users < self.workers

    def describe(self) -> str:
        """The plan in a sentence or two, for a notebook or a terminal."""

        def many(n: int, word: str, words: str) -> str:
            return f"{n} {word if n == 1 else words}"

        line = (
            f"{many(self.cores, 'usable core', 'usable cores')}: {many(self.workers, 'worker', 'workers')}, "
            f"{self.users} users, {many(self.generators, 'Locust process', 'Locust processes')} "
            f"(expected to use {self.generator_cores:.2f} of a core)"
        )
        if self.limit_rps is not None:
            line += (
                f"; at {self.cpu_ms:g} ms of CPU a request the limit is {self.limit_rps:.0f} req/s "
                f"({self.limit_cores:.2f} cores' worth left to the server)"
            )
        return "\n".join([line + ".", *(f"note: {n}" for n in self.notes)])

    def fields(self) -> dict[str, Any]:
        """As JSON: what meta.json stores and ``python -m corelab plan --json`` prints."""
        return {**asdict(self), "notes": list(self.notes), "limit_cores": round(self.limit_cores, 2)}


def load_plan(
    scenario: str | Scenario = "cpu",
    *,
    cores: int | CoreCount | None = None,
    workers: int | None = None,
    users: int | None = None,
    generators: int | None = None,
    budget_rps: float | None = None,
) -> LoadPlan:
    """The plan for ``scenario`` on this machine's usable cores, or on ``cores`` (an int: a machine of
    that many cores, no SMT, no quota). Every part can be overridden; the rest follow from it."""
    scen = scenario if isinstance(scenario, Scenario) else get_scenario(scenario)
    simulated = isinstance(cores, int)
    count = _simulated(cores) if isinstance(cores, int) else (cores or core_count())
    for name, value in (("workers", workers), ("users", users), ("generators", generators)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            # The words LoadConfig uses too (corelab.harness.loadgen): one error for one mistake.
            what = "users" if name == "users" else "processes"
            raise ValueError(f"{name} must be a whole number of {what}, at least 1 (got {value!r})")
    if scen.one_generator and generators is not None and generators > 1:
        raise ValueError(
            f"scenario {scen.name!r} keeps one ledger of what its users saw, written by one Locust process: "
            f"it runs with one generator (got {generators})"
        )
    notes = list(count.notes)
    workers = workers or count.usable
    users = users or (max(scen.users, USERS_PER_WORKER * workers) if scen.saturating else scen.users)
    budget, source = (budget_rps, "given") if budget_rps else generator_budget(scen.client)
    compute = min(count.compute_cores, float(count.usable))
    expected, _ = _expected(scen, workers, users, compute, budget, 0.0)
    planned = generators or max(1, math.ceil((expected or 0.0) / (budget * GENERATOR_TARGET_PCT / 100)))
    planned = min(planned, users)  # a generator process needs at least one user
    # Again, now that the generators' fixed cost is known: what they take is not the workers'.
    reserved = planned * GENERATOR_BASELINE_CORES
    expected, limit = _expected(scen, workers, users, compute, budget, reserved)
    generator_cores = reserved + (expected or 0.0) / budget
    if count.smt:
        notes.append(
            f"SMT: {len(count.ids)} logical CPUs are {count.physical_usable} physical cores; the limit counts "
            "physical cores (a second thread on a core adds 0-30% on pure-Python work)"
        )
    if count.quota is not None:
        notes.append(f"a cgroup quota of {count.quota:g} cores caps the {len(count.ids)} CPUs this process may use")
    if count.usable == 1:
        notes.append("one usable core: a cluster cannot show a speed-up here, and Locust shares the server's core")
    if scen.saturating and users < workers:
        notes.append(f"users-bound: {users} users cannot keep {workers} workers busy")
    return LoadPlan(
        scenario=scen.name,
        cores=count.usable,
        compute_cores=round(compute, 2),
        workers=workers,
        users=users,
        generators=planned,
        budget_rps=budget,
        budget_source=source,
        cpu_ms=scen.cpu_ms,
        expected_rps=None if expected is None else round(expected, 1),
        generator_cores=round(generator_cores, 3),
        limit_rps=None if limit is None else round(limit, 1),
        simulated=simulated,
        notes=tuple(notes),
    )


def _expected(
    scen: Scenario, workers: int, users: int, compute: float, budget: float, reserved: float
) -> tuple[float | None, float | None]:
    """(expected req/s, limit req/s) for the scenario's cost model; ``reserved``: cores the generators
    take whatever the rate (their fixed cost)."""
    if scen.paced_rps_per_user:
        return users * scen.paced_rps_per_user, None
    if scen.wait_ms:
        return users * 1000 / scen.wait_ms, None
    if not scen.cpu_ms:
        return None, None
    per_core = 1000 / scen.cpu_ms
    # The generators' cores come out of the same machine: R = (C - reserved - R / budget) * per_core.
    cores = max(0.0, min(compute, float(workers)) - reserved)
    limit = cores * per_core / (1 + per_core / budget)
    # Closed-loop users: at most one request each in the server at once.
    return min(limit, users * per_core), limit


def _simulated(cores: int) -> CoreCount:
    if cores < 1:
        raise ValueError(f"--cores must be at least 1 (got {cores})")
    return CoreCount(ids=tuple(range(cores)), logical=cores, physical=cores, physical_usable=cores)


def generator_budget(client: str) -> tuple[float, str]:
    """Requests a second one Locust process sends per core of its own, for ``client``, and where that
    figure came from: this machine's measurement when there is one, else the reference figure."""
    try:
        measured = json.loads(BUDGET_FILE.read_text())
        value = float(measured["rps_per_core"][client])
        return value, f"measured on this machine {measured.get('measured_at', '')}".rstrip()
    except (OSError, ValueError, KeyError, TypeError):
        return REFERENCE_BUDGET_RPS.get(client, REFERENCE_BUDGET_RPS["fast"]), "reference (2-vCPU VM)"


def save_budget(rps_per_core: dict[str, float], measured_at: str, path: Path = BUDGET_FILE) -> None:
    """Write this machine's budget (``python -m corelab generators``), for every later plan to read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"rps_per_core": rps_per_core, "measured_at": measured_at}, indent=2) + "\n")


def plan_table(plans: list[LoadPlan]) -> str:
    """One row per plan, as ``python -m corelab plan`` prints it."""
    columns = [
        Column("cores", 5), Column("compute", 7, ".1f"), Column("workers", 7), Column("users", 5),
        Column("generators", 10), Column("gen. cores", 10, ".2f"), Column("expected req/s", 14, ".0f"),
        Column("limit req/s", 11, ".0f"),
    ]  # fmt: skip
    rows = [
        (p.cores, p.compute_cores, p.workers, p.users, p.generators, p.generator_cores,
         p.expected_rps if p.expected_rps is not None else float("nan"),
         p.limit_rps if p.limit_rps is not None else float("nan"))
        for p in plans
    ]  # fmt: skip
    return text_table(columns, rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab plan``'s options."""
    parser.add_argument(
        "--cores", type=int, nargs="+", help="plan for machines of N cores instead of this one (a real run always "
        "uses the real usable cores)"
    )  # fmt: skip
    parser.add_argument("--scenario", default="cpu", help="the scenario whose cost the plan is for (default: cpu)")
    parser.add_argument("--workers", type=int, help="override the workers (default: one per usable core)")
    parser.add_argument("--users", type=int, help="override the users")
    parser.add_argument("--generators", type=int, help="override the Locust processes")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON (a list with several --cores)")


def run_command(args: argparse.Namespace) -> int:
    """The plan as a table (or JSON), and its notes."""
    machines: list[int | None] = list(args.cores) if args.cores else [None]
    plans = [
        load_plan(args.scenario, cores=n, workers=args.workers, users=args.users, generators=args.generators)
        for n in machines
    ]
    if args.json:
        data = [p.fields() for p in plans]
        print(json.dumps(data[0] if len(data) == 1 else data, indent=2))
        return 0
    scen = get_scenario(args.scenario)
    where = "simulated machines" if args.cores else core_count().describe()
    print(f"load plan for scenario {scen.name!r} ({scen.summary}) on {where}")
    print(f"Locust's budget: {plans[0].budget_rps:.0f} req/s per core of one process ({plans[0].budget_source})\n")
    print(plan_table(plans))
    for note in dict.fromkeys(n for p in plans for n in p.notes):
        print(f"note: {note}")
    return 0
