"""The one command line, ``python -m corelab COMMAND``: one table of commands, each run the same way.

A command's module is imported only when that command runs, so ``corelab top`` starts without
pandas and matplotlib, and each benchmark lives beside its lesson (``corelab/lessons/*``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from corelab.harness.quick import pick
from corelab.harness.scenarios import SCENARIOS
from corelab.harness.variants import VARIANTS, check_policies
from plumbing.procs import PROJECT_ROOT

if TYPE_CHECKING:
    from corelab.harness.results import Runs


@dataclass(frozen=True)
class Command:
    """One subcommand: where it lives, and its help line. Every command, bench and demo too, is built and
    run the same way: ``options(parser)`` adds its options, ``run(args)`` returns the exit code."""

    module: str
    help: str
    run: str = "run_command"
    options: str = "add_arguments"


COMMANDS: dict[str, Command] = {
    "bench": Command(
        "corelab.cli", "run variants under the same Locust load and compare them", "run_bench", "add_bench_arguments"
    ),
    "demo": Command(
        "corelab.cli", "one process vs a fork cluster on the CPU scenario, with plots", "run_demo", "add_demo_arguments"
    ),
    "plan": Command("corelab.harness.plan", "the load plan: workers, users, generators and the limit, per core count"),
    "top": Command("corelab.live.top", "every core and the server's processes by role, live", "run_top"),
    "doctor": Command("corelab.classroom.doctor", "is this machine ready for a class? what to do if not", "run_doctor"),
    "clean": Command(
        "corelab.classroom.clean", "stop every process the kit started that is still running", "run_clean"
    ),
    "lab": Command(
        "corelab.classroom.labs.runner", "the labs: list them, or check lab N (make check LAB=NN)", "run_lab"
    ),
    "lifecycle": Command(
        "corelab.cli",
        "benchmarks of the cluster: rolling restart, respawn, balance, throughput, bursts",
        "run_lifecycle",
        "add_lifecycle_arguments",
    ),
    "chat": Command(
        "corelab.lessons.chat.bench",
        "benchmarks of sticky sessions and the Redis adapter: delivery, sticky cost, outage, stop, restart",
    ),
    "primary-cost": Command(
        "corelab.lessons.connections.primary_cost_bench",
        "the cluster primary's CPU per connection, per policy and for Node's cluster",
    ),
    "node-vs-python": Command(
        "corelab.node_vs_python.measure",
        "the articles' Node code beside the Python port, lesson by lesson: one table, the articles' claims checked",
    ),
    "blocked-loop": Command("corelab.lessons.one_process.blocked_loop", "a probe's latency per offload mode"),
    "parallel": Command("corelab.lessons.one_process.parallel", "one job in 1..k threads and processes: the GIL"),
    "spawn-cost": Command("corelab.lessons.one_process.spawn_cost", "a reused pool vs a new thread/process per task"),
    "fleet": Command(
        "corelab.lessons.fleet.bench",
        "the fleet: load balancer's cost, a host killed, cross-host delivery, Caddy or Redis killed",
        "run_fleet",
    ),
    "shared-counter": Command(
        "corelab.lessons.one_process.shared_counter",
        "processes adding to one counter in shared memory, with and without a lock",
    ),
    "generators": Command("corelab.lessons.generators.bench", "req/s on GET / with 1, 2, 3 load generator processes"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, the other commands' modules are not imported (their options are unknown)."""
    parser = argparse.ArgumentParser(prog="python -m corelab", description="Measure how a web server uses the cores.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        sub = commands.add_parser(name, help=command.help)
        if only is None or only == name:
            getattr(importlib.import_module(command.module), command.options)(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(only=chosen).parse_args(argv)
    command = COMMANDS[args.command]
    # Files, not windows: this runs in terminals and CI. Set before matplotlib is imported, so only
    # the commands that draw import it; put back afterwards, so that a caller's later children (a
    # test's Jupyter kernel) keep their own backend.
    backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        return getattr(importlib.import_module(command.module), command.run)(args)
    except KeyboardInterrupt:
        print("\ninterrupted: every server and load generator has been stopped", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if backend is None:
            del os.environ["MPLBACKEND"]
        else:
            os.environ["MPLBACKEND"] = backend


def add_bench_arguments(bench: argparse.ArgumentParser) -> None:
    """``python -m corelab bench``'s options."""
    bench.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="repeat for several")
    bench.add_argument(
        "--workers", type=int, help="workers for the multi-worker variants (default: the load plan's, one per core)"
    )
    bench.add_argument(
        "--policy", action="append", help=f"repeat for several (cluster: {', '.join(VARIANTS['cluster'].policies)})"
    )
    bench.add_argument("--scenario", choices=sorted(SCENARIOS), default="cpu")
    bench.add_argument("--seconds", type=float, default=15)
    bench.add_argument("--users", type=int, help="Locust users (default: the load plan's)")
    bench.add_argument(
        "--generators",
        type=int,
        help="Locust processes sending the load (K > 1: a master and K workers; default: the load plan's)",
    )
    bench.add_argument("--out", type=Path, help="folder for the runs (default: results/<timestamp>)")
    bench.add_argument("--no-plots", action="store_true", help="write the tables only")


def add_demo_arguments(demo: argparse.ArgumentParser) -> None:
    """``python -m corelab demo``'s options."""
    demo.add_argument("--seconds", type=float, default=pick(15, 5))
    demo.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "demo")


def run_bench(args: argparse.Namespace) -> int:
    from corelab.harness.run import bench

    for name in ("workers", "users", "generators"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise ValueError(f"--{name} must be at least 1")
    check_policies(args.variant or ["single", "cluster"], args.policy)
    if args.seconds < 3:
        raise ValueError("--seconds must be at least 3 (the rate is measured once every user has connected)")
    runs = bench(
        args.variant or ["single", "cluster"],
        workers=args.workers,
        policies=args.policy,
        scenario=args.scenario,
        seconds=args.seconds,
        users=args.users,
        generators=args.generators,
        out=args.out,
    )
    print()
    print(runs.summary_table())
    if not args.no_plots:
        _write_figures(runs)
    print(f"\nruns and summary.csv in {_shown(runs.root)}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from corelab.harness.plan import load_plan
    from corelab.harness.run import bench
    from plumbing.cores import core_count

    started = time.monotonic()
    cores = core_count()
    plan = load_plan("cpu", cores=cores)
    workers = f"{plan.workers} worker{'s' if plan.workers > 1 else ''}"
    print(f"corelab demo: one Python process vs a fork cluster of {workers}, on {cores.describe()}.")
    print(
        f"Each request burns 10 ms of pure-Python CPU; {plan.users} users, {plan.generators} Locust "
        f"process{'es' if plan.generators > 1 else ''}, {args.seconds:g} s per run (python -m corelab plan).\n"
    )
    if args.out.exists():
        _clear_runs(args.out)
    policy = VARIANTS["cluster"].policies[0]
    runs = bench(
        ["single", "cluster"],
        workers=plan.workers,
        users=plan.users,
        generators=plan.generators,
        policies=[policy],
        seconds=args.seconds,
        out=args.out,
    )
    print()
    print(runs.summary_table())
    single, cluster = runs.summary.iloc[0], runs.summary.iloc[1]
    print(
        f"\nOne process served {single.rps:.0f} req/s on {single.server_cpu_pct:.0f}% CPU (one core); "
        f"the cluster served {cluster.rps:.0f} req/s on {cluster.server_cpu_pct:.0f}% CPU: "
        f"{cluster.rps / single.rps:.2f}x, {cluster.rps / cluster.limit_rps:.2f} of the plan's limit "
        f"({cluster.limit_rps:.0f} req/s: {plan.limit_cores:.2f} cores' worth once Locust has its share)."
    )
    for note in plan.notes:
        print(f"note: {note}")
    if runs.summary["generator_bound"].any():
        print("warning: Locust itself used more than 80% of a core in a run: that run measured Locust, not the server.")
    if cluster.idle_workers:
        print(f"warning: {cluster.idle_workers} of the cluster's {plan.workers} workers served nothing.")
    if cluster.users_bound:
        print("warning: the cluster run was users-bound: too few users to keep every worker busy.")
    _write_figures(runs)
    print(f"\nfigures, runs and summary.csv in {_shown(runs.root)} ({time.monotonic() - started:.0f} s)")
    return 0


# ``python -m corelab lifecycle WHICH``: each benchmark lives with its lesson; this table joins them.
LIFECYCLE = {
    "rolling": "corelab.lessons.restarts.bench",
    "respawn": "corelab.lessons.restarts.bench",
    "balance": "corelab.lessons.connections.bench",
    "throughput": "corelab.lessons.restarts.bench",
    "burst": "corelab.lessons.connections.bench",
}


def add_lifecycle_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab lifecycle``'s options."""
    parser.add_argument("which", choices=(*LIFECYCLE, "all"))
    parser.add_argument("--seconds", type=float, default=None, help="seconds of load per run (default: per benchmark)")
    parser.add_argument("--kills", type=int, default=6, help="respawn: workers to SIGKILL")
    parser.add_argument("--repeats", type=int, default=2, help="throughput: runs of each variant")
    parser.add_argument("--trials", type=int, default=20, help="burst: bursts per policy")
    parser.add_argument(
        "--clients", type=int, help="burst: keep-alive clients connecting at once (default: 10 per usable core)"
    )


def run_lifecycle(args: argparse.Namespace) -> int:
    """The chosen benchmarks, one after the other, each printed with its target; exit 1 when one misses it.

    Run them one at a time on a shared machine (each takes one to three minutes). Results land in
    results/lifecycle-bench-<time>/figures.json.
    """
    import json

    from corelab.harness.results import machine_info, new_results_dir

    if args.trials < 1 or (args.clients is not None and args.clients < 1):
        raise ValueError("--trials and --clients must be at least 1")
    root = new_results_dir("lifecycle-bench")
    root.mkdir(parents=True, exist_ok=True)
    chosen = tuple(LIFECYCLE) if args.which == "all" else (args.which,)
    settings = {
        "rolling": lambda: (args.seconds or 30,),
        "respawn": lambda: (args.kills,),
        "balance": lambda: (args.seconds or 20,),
        "throughput": lambda: (args.seconds or 20, args.repeats),
        "burst": lambda: (args.trials, args.clients, args.seconds or 3),
    }
    figures: dict[str, dict] = {}
    for name in chosen:
        measure = getattr(importlib.import_module(LIFECYCLE[name]), name)
        figures[name] = measure(root, *settings[name]())
        print(f"{name}: {json.dumps(figures[name])}", flush=True)
    figures["machine"] = machine_info()
    (root / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {root / 'figures.json'}")
    return 0 if all(f.get("met", True) for f in figures.values()) else 1


def _write_figures(runs: Runs) -> None:
    import matplotlib.pyplot as plt

    from corelab.figures import plot_core_heatmap, plot_requests_per_worker, plot_throughput, plot_throughput_by_variant

    figures = {
        "cores.png": plot_core_heatmap(runs),  # its title: the cores each server kept busy
        "throughput.png": plot_throughput(runs),
        "throughput-by-variant.png": plot_throughput_by_variant(runs),
        "requests-per-worker.png": plot_requests_per_worker(runs),
    }
    for name, fig in figures.items():
        fig.savefig(runs.root / name, dpi=110, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {_shown(runs.root / name)}")


def _clear_runs(root: Path) -> None:
    """A new demo replaces the last one's runs, so the figures show this run alone."""
    import shutil

    for meta in root.glob("*/meta.json"):
        shutil.rmtree(meta.parent)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
