"""What notebooks 01, 02 and 08 claim, read from their bench runs: how many cores' worth of CPU a
server used and how its throughput compares with the limit that applies.

    runs = bench(["single"], scenario="cpu")
    one_core_claim(runs)            # 01: one process, one core's worth, at most 100 req/s at 10 ms each
    runs = bench(["single", "cluster"], scenario="cpu")
    every_core_claim(runs)          # 02: the cluster's throughput over one process's, against N workers
    runs = bench(["single", "cluster"], scenario="io")
    not_parallel_claim(runs)        # 08: waiting requests: a cluster adds nothing, the CPU stays low
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from corelab.claim import Claim
from corelab.harness.results import Runs, given
from corelab.harness.scenarios import SCENARIOS
from corelab.harness.shares import core_moves, cores_worth, measured_window


@dataclass
class OneCore(Claim):
    """Notebook 01: one Python process serving CPU-bound requests uses one core, whatever the machine has."""

    label: str
    server_cpu_pct: float  # the server process's CPU; 100 is one core
    machine_cores: int
    mean_per_core_pct: list[float]  # each usable core's mean utilisation over the run, in core order
    rps: float
    cpu_ms_per_request: int
    p50_ms: float
    users: int
    generator_cpu_pct: float
    generator_bound: bool
    core_ids: list[int] = field(default_factory=list)  # the usable cores' ids, as mean_per_core_pct lists them
    # Cores' worth over the measured window (corelab.harness.shares): what the cores did, by whom.
    other_cores: float = 0.0  # neither the server nor Locust: the kernel, a browser, JupyterLab ...
    core_moves: int = -1  # times the scheduler moved the server to another core (-1: the OS does not say)
    cores_visited: int = -1  # cores the server ran on at some moment
    seconds: float = 0.0  # the seconds the moves were counted over

    @property
    def one_core_limit_rps(self) -> float:
        """The most requests a second one core can serve at this much CPU each."""
        return 1000 / self.cpu_ms_per_request

    def fields(self) -> dict[str, Any]:
        return {
            **super().fields(),
            "mean_per_core_pct": self.mean_per_core_pct,
            "cores_used": round(self.server_cpu_pct / 100, 2),
            "locust_cores": round(self.generator_cpu_pct / 100, 2),
            "one_core_limit_rps": self.one_core_limit_rps,
        }

    def sentence(self) -> str:
        ids = self.core_ids or list(range(len(self.mean_per_core_pct)))
        if len(ids) <= 8:
            per_core = ", ".join(f"core {i} {v:.0f}%" for i, v in zip(ids, self.mean_per_core_pct, strict=True))
        else:  # too many to list: what the busiest did, and the rest on average
            busiest = max(self.mean_per_core_pct)
            per_core = f"the busiest {busiest:.0f}%, the mean {sum(self.mean_per_core_pct) / len(ids):.0f}%"
        bottleneck = (
            "generator-bound: this run measured Locust, not the server"
            if self.generator_bound
            else "so the server was the bottleneck"
        )
        moved = ""
        if self.core_moves > 0:
            moved = (
                f"The scheduler moved it between cores {self.core_moves} times in {self.seconds:.0f} s (it ran on "
                f"{self.cores_visited} of them), so several rows of the heatmap lit part-way; it never ran on two at "
                "once, and its total stayed at one core's worth.\n"
            )
        elif self.core_moves == 0:
            moved = "The scheduler kept it on one core the whole time.\n"
        return (
            f"The server process ({self.label}) used {self.server_cpu_pct:.0f}% CPU, {self.server_cpu_pct / 100:.2f} "
            f"of a core, on a machine with {self.machine_cores} cores (mean per core: {per_core}).\n"
            f"In cores' worth: the server {self.server_cpu_pct / 100:.2f}, Locust {self.generator_cpu_pct / 100:.2f}, "
            f"everything else {self.other_cores:.2f}.\n"
            + moved
            + f"It served {self.rps:.0f} requests/s: at {self.cpu_ms_per_request} ms of CPU each, one core allows at "
            f"most {self.one_core_limit_rps:.0f}.\n"
            f"Median latency {self.p50_ms:.0f} ms: {self.users} users queue behind one core, so each waits for "
            f"the others.\n"
            f"Locust used {self.generator_cpu_pct:.0f}% of a core, {bottleneck}."
        )


@dataclass
class EveryCore(Claim):
    """Notebook 02: a fork cluster of N workers serves CPU-bound requests on every core, up to the limit
    the load plan sets (the usable cores, less what Locust needs of them)."""

    workers: int
    single_rps: float
    cluster_rps: float
    single_cpu_pct: float
    cluster_cpu_pct: float
    busiest_worker_share: float  # of the cluster's responses
    least_busy_worker_share: float
    generator_cpu_pct: float  # Locust, during the cluster run
    generator_bound: bool  # either run
    limit_rps: float | None = None  # the plan's limit for the cluster run (corelab.harness.plan)
    idle_workers: int = 0  # workers of the cluster that served nothing
    users_bound: bool = False  # too few users to keep every worker busy
    users: int = 0
    other_cores: float = 0.0  # during the cluster run: neither the server nor Locust (the kernel, a browser ...)

    @property
    def speedup(self) -> float:
        return self.cluster_rps / self.single_rps if self.single_rps else float("nan")

    @property
    def fraction_of_limit(self) -> float:
        """The cluster's req/s over the plan's limit: about 1 when every usable core served."""
        return self.cluster_rps / self.limit_rps if self.limit_rps else float("nan")

    def fields(self) -> dict[str, Any]:
        return {
            **super().fields(),
            "speedup": round(self.speedup, 3),
            "cores_busy": round(self.cluster_cpu_pct / 100, 2),
            "fraction_of_limit": round(self.fraction_of_limit, 3),
        }

    def sentence(self) -> str:
        lines = [
            f"One process: {self.single_rps:.0f} req/s on {self.single_cpu_pct:.0f}% CPU.",
            f"Cluster of {self.workers}: {self.cluster_rps:.0f} req/s on {self.cluster_cpu_pct:.0f}% CPU "
            f"({self.cluster_cpu_pct / 100:.1f} cores busy): {self.speedup:.2f}x one process"
            + (
                f", {self.fraction_of_limit:.0%} of the limit on this machine ({self.limit_rps:.0f} req/s: "
                "the usable cores less Locust's share)."
                if self.limit_rps
                else "."
            ),
            f"Busiest worker served {self.busiest_worker_share:.0%} of the requests, the least busy "
            f"{self.least_busy_worker_share:.0%}"
            + (f"; {self.idle_workers} of {self.workers} workers served nothing." if self.idle_workers else "."),
        ]
        if self.workers == 1:
            lines.append("With one usable core there is one worker: a cluster cannot show a speed-up on this machine.")
        if self.users_bound:
            lines.append(f"Users-bound: {self.users} users could not keep {self.workers} workers busy.")
        lines.append(
            f"In cores' worth, during the cluster's run: the workers {self.cluster_cpu_pct / 100:.2f}, Locust "
            f"{self.generator_cpu_pct / 100:.2f}, everything else {self.other_cores:.2f}."
        )
        lines.append(
            f"Locust used {self.generator_cpu_pct:.0f}% of a core on the same machine: that, and the sampler, "
            "is CPU the workers could not have"
            + (" (generator-bound: the figures measured Locust)." if self.generator_bound else ".")
        )
        return "\n".join(lines)


@dataclass
class NotParallel(Claim):
    """Notebook 08: requests that wait, not compute: one process keeps them all in flight, a cluster adds nothing."""

    users: int
    wait_ms: int
    workers: int
    single_rps: float
    cluster_rps: float
    single_cpu_pct: float
    cluster_cpu_pct: float
    single_p50_ms: float

    @property
    def users_limit_rps(self) -> float:
        """The most requests a second the users can ask for when each waits ``wait_ms`` per request."""
        return self.users * 1000 / self.wait_ms

    @property
    def cluster_ratio(self) -> float:
        return self.cluster_rps / self.single_rps if self.single_rps else float("nan")

    def fields(self) -> dict[str, Any]:
        return {
            **super().fields(),
            "users_limit_rps": self.users_limit_rps,
            "cluster_ratio": round(self.cluster_ratio, 3),
        }

    def sentence(self) -> str:
        return (
            f"One process served {self.single_rps:.0f} requests/s with {self.users} users in flight (at most "
            f"{self.users_limit_rps:.0f}/s when each waits {self.wait_ms} ms), using {self.single_cpu_pct:.0f}% "
            f"of one core; median latency {self.single_p50_ms:.0f} ms.\n"
            f"The {self.workers}-worker cluster served {self.cluster_rps:.0f} requests/s ({self.cluster_ratio:.2f}x) "
            f"using {self.cluster_cpu_pct:.0f}% CPU: a second process added nothing, the requests were waiting, "
            f"not computing."
        )


def one_core_claim(runs: Runs) -> OneCore:
    """Notebook 01's claim from its one run of ``single`` under a CPU scenario."""
    row = _first(runs, "single")
    ms = _per_request_ms(row, "cpu_ms", "CPU-bound")
    cores = runs.cores[runs.cores["run"] == row["run"]]
    per_core = cores.groupby("core")["util_pct"].mean()
    return OneCore(
        label=str(row["label"]),
        server_cpu_pct=float(row["server_cpu_pct"]),
        machine_cores=len(per_core),
        mean_per_core_pct=[round(float(v), 1) for v in per_core],
        core_ids=[int(c) for c in per_core.index],
        **_worth_and_moves(runs, row),
        rps=float(row["rps"]),
        cpu_ms_per_request=ms,
        p50_ms=float(row["p50_ms"]),
        users=int(row["users"]),
        generator_cpu_pct=float(row["generator_cpu_pct"]),
        generator_bound=bool(row["generator_bound"]),
    )


def every_core_claim(runs: Runs) -> EveryCore:
    """Notebook 02's claim from a run of ``single`` and one of ``cluster`` under a CPU scenario."""
    single, cluster = _first(runs, "single"), _first(runs, "cluster")
    _per_request_ms(cluster, "cpu_ms", "CPU-bound")
    shares = runs.workers[runs.workers["run"] == cluster["run"]]["share"]
    if shares.empty:
        raise ValueError(f"run {cluster['run']} has no responses per worker (workers.json)")
    return EveryCore(
        workers=int(cluster["workers"]),
        single_rps=float(single["rps"]),
        cluster_rps=float(cluster["rps"]),
        single_cpu_pct=float(single["server_cpu_pct"]),
        cluster_cpu_pct=float(cluster["server_cpu_pct"]),
        busiest_worker_share=round(float(shares.max()), 3),
        least_busy_worker_share=round(float(shares.min()), 3),
        generator_cpu_pct=float(cluster["generator_cpu_pct"]),
        generator_bound=bool(single["generator_bound"] or cluster["generator_bound"]),
        limit_rps=_number(cluster.get("limit_rps")),
        idle_workers=int(_number(cluster.get("idle_workers")) or 0),
        users_bound=bool(_number(cluster.get("users_bound")) or False),
        users=int(cluster["users"]),
        other_cores=_worth_and_moves(runs, cluster)["other_cores"],
    )


def not_parallel_claim(runs: Runs) -> NotParallel:
    """Notebook 08's claim from a run of ``single`` and one of ``cluster`` under a waiting scenario."""
    single, cluster = _first(runs, "single"), _first(runs, "cluster")
    ms = _per_request_ms(single, "wait_ms", "waiting")
    return NotParallel(
        users=int(single["users"]),
        wait_ms=ms,
        workers=int(cluster["workers"]),
        single_rps=float(single["rps"]),
        cluster_rps=float(cluster["rps"]),
        single_cpu_pct=float(single["server_cpu_pct"]),
        cluster_cpu_pct=float(cluster["server_cpu_pct"]),
        single_p50_ms=float(single["p50_ms"]),
    )


def _worth_and_moves(runs: Runs, row: dict[str, Any]) -> dict[str, Any]:
    """What else the cores did over the measured window, and how often the server changed cores."""
    worth = cores_worth(runs)
    worth = worth[worth["run"] == row["run"]]
    window = measured_window(runs, str(row["label"]))
    if window is not None:
        worth = worth[(worth["t"] >= window[0]) & (worth["t"] <= window[1])]
    moves = core_moves(runs)
    moves = moves[moves["run"] == row["run"]]
    found = moves.iloc[0] if len(moves) else None
    return {
        "other_cores": round(float(worth["other"].mean()), 2) if len(worth) else 0.0,
        "core_moves": int(found["moves"]) if found is not None else -1,
        "cores_visited": int(found["cores_visited"]) if found is not None else -1,
        "seconds": float(found["seconds"]) if found is not None else 0.0,
    }


def _number(value: Any) -> float | None:
    """A summary value, or None where the run predates its column (read back as NaN)."""
    return float(value) if given(value) else None


def _first(runs: Runs, variant: str) -> dict[str, Any]:
    """The summary row of the first run of ``variant``; a ValueError names what the runs hold instead."""
    rows = runs.summary[runs.summary["variant"] == variant]
    if rows.empty:
        held = ", ".join(runs.summary["label"]) or "no runs"
        raise ValueError(f"no run of {variant!r} among these runs ({held})")
    return rows.iloc[0].to_dict()


def _per_request_ms(row: dict[str, Any], cost: str, kind: str) -> int:
    """The scenario's ms per request of ``cost`` ("cpu_ms" or "wait_ms"); a ValueError where it has none."""
    scenario = SCENARIOS.get(str(row["scenario"]))
    ms = getattr(scenario, cost) if scenario is not None and not scenario.paced_rps_per_user else 0
    if not ms:
        fitting = ", ".join(s.name for s in SCENARIOS.values() if getattr(s, cost) and not s.paced_rps_per_user)
        raise ValueError(f"run {row['run']} used scenario {row['scenario']!r}, not a {kind} one ({fitting})")
    return int(ms)
