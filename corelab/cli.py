"""The one command line, ``python -m corelab COMMAND``: bench and demo here, every other command in its module.

A command's module is imported only when that command runs, so ``corelab top`` starts without
pandas and matplotlib, and each benchmark lives beside its lesson (``corelab/lessons/*``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from corelab.quick import pick
from corelab.scenarios import SCENARIOS
from corelab.variants import VARIANTS, check_policies
from plumbing.cores import usable_core_count
from plumbing.procs import PROJECT_ROOT

if TYPE_CHECKING:
    from corelab.results import Runs

# name -> (module, its function that runs the command, help). The module has
# ``add_arguments(parser)``; the function takes the parsed arguments and returns the exit code.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "top": ("corelab.top", "run_top", "every core and the server's processes by role, live"),
    "doctor": ("corelab.doctor", "run_doctor", "is this machine ready for a class? what to do if not"),
    "clean": ("corelab.clean", "run_clean", "stop every process the kit started that is still running"),
    "lab": ("corelab.labs.runner", "run_lab", "the labs: list them, or check lab N (make check LAB=NN)"),
    "lifecycle": (
        "corelab.lessons.lifecycle_bench",
        "run_command",
        "benchmarks of the cluster: rolling restart, respawn, balance, throughput, bursts",
    ),
    "chat": (
        "corelab.lessons.chat_bench",
        "run_command",
        "benchmarks of sticky sessions and the Redis adapter: delivery, sticky cost, outage, stop, restart",
    ),
    "primary-cost": (
        "corelab.lessons.primary_cost",
        "run_command",
        "the cluster primary's CPU per connection, per policy and for Node's cluster",
    ),
    "blocked-loop": ("corelab.lessons.blocked_loop", "run_command", "a probe's latency per offload mode"),
    "parallel": ("corelab.lessons.parallel", "run_command", "one job in 1..k threads and processes: the GIL"),
    "spawn-cost": ("corelab.lessons.spawn_cost", "run_command", "a reused pool vs a new thread/process per task"),
    "fleet": (
        "corelab.lessons.fleet",
        "run_fleet",
        "the fleet: load balancer's cost, a host killed, cross-host delivery, Caddy or Redis killed",
    ),
    "shared-counter": (
        "corelab.lessons.shared_counter",
        "run_command",
        "processes adding to one counter in shared memory, with and without a lock",
    ),
    "generators": ("corelab.generators", "run_command", "req/s on GET / with 1, 2, 3 load generator processes"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, the other commands' modules are not imported (their options are unknown)."""
    parser = argparse.ArgumentParser(prog="python -m corelab", description="Measure how a web server uses the cores.")
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser("bench", help="run variants under the same Locust load and compare them")
    bench.add_argument("--variant", action="append", choices=sorted(VARIANTS), help="repeat for several")
    bench.add_argument("--workers", type=int, default=2, help="workers for the multi-worker variants")
    bench.add_argument(
        "--policy", action="append", help=f"repeat for several (cluster: {', '.join(VARIANTS['cluster'].policies)})"
    )
    bench.add_argument("--scenario", choices=sorted(SCENARIOS), default="cpu")
    bench.add_argument("--seconds", type=float, default=15)
    bench.add_argument("--users", type=int, help="Locust users (default: the scenario's)")
    bench.add_argument(
        "--generators", type=int, default=1, help="Locust processes sending the load (K > 1: a master and K workers)"
    )
    bench.add_argument("--out", type=Path, help="folder for the runs (default: results/<timestamp>)")
    bench.add_argument("--no-plots", action="store_true", help="write the tables only")

    demo = commands.add_parser("demo", help="one process vs a fork cluster on the CPU scenario, with plots")
    demo.add_argument("--seconds", type=float, default=pick(15, 5))
    demo.add_argument("--out", type=Path, default=PROJECT_ROOT / "results" / "demo")

    for name, (module, _, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text)
        if only is None or only == name:
            importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    chosen = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(only=chosen).parse_args(argv)
    # Files, not windows: this runs in terminals and CI. Set before matplotlib is imported, so only
    # the commands that draw import it.
    os.environ["MPLBACKEND"] = "Agg"
    try:
        if args.command == "bench":
            return run_bench(args)
        if args.command == "demo":
            return run_demo(args)
        module, function, _ = COMMANDS[args.command]
        return getattr(importlib.import_module(module), function)(args)
    except KeyboardInterrupt:
        print("\ninterrupted: every server and load generator has been stopped", file=sys.stderr)
        return 130
    except (ValueError, RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run_bench(args: argparse.Namespace) -> int:
    from corelab.run import bench

    if args.workers < 1:
        raise ValueError("--workers must be at least 1")
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
    from corelab.run import bench

    started = time.monotonic()
    workers = usable_core_count()
    print(f"corelab demo: one Python process vs a fork cluster of {workers} workers,")
    print(f"each request burning 10 ms of pure-Python CPU, {args.seconds:g} s per run, on {workers} cores.\n")
    if args.out.exists():
        _clear_runs(args.out)
    policy = VARIANTS["cluster"].policies[0]
    runs = bench(["single", "cluster"], workers=workers, policies=[policy], seconds=args.seconds, out=args.out)
    print()
    print(runs.summary_table())
    single, cluster = runs.summary.iloc[0], runs.summary.iloc[1]
    print(
        f"\nOne process served {single.rps:.0f} req/s on {single.server_cpu_pct:.0f}% CPU (one core); "
        f"the cluster served {cluster.rps:.0f} req/s on {cluster.server_cpu_pct:.0f}% CPU: "
        f"{cluster.rps / single.rps:.2f}x."
    )
    if runs.summary["generator_bound"].any():
        print("warning: Locust itself used more than 80% of a core in a run: that run measured Locust, not the server.")
    _write_figures(runs)
    print(f"\nfigures, runs and summary.csv in {_shown(runs.root)} ({time.monotonic() - started:.0f} s)")
    return 0


def _write_figures(runs: Runs) -> None:
    import matplotlib.pyplot as plt

    from corelab.plots import plot_core_heatmap, plot_requests_per_worker, plot_throughput, plot_throughput_by_variant

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
