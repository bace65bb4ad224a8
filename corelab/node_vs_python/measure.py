"""The sections of notebook 13: each one lesson's own measurement with the Node variants beside the
Python ones, and ``python -m corelab node-vs-python``, which runs them all and prints the table.

- ``throughput``: one process and the cluster at 10 ms of CPU per request (the ``cpu`` scenario);
- ``bursts``: how often a burst of simultaneous clients left a worker idle: the kit's rr and shared
  socket, Node's rr and none (connections);
- ``primary``: the primary's CPU per connection, the kit's rr and Node's (connections);
- ``restarts``: failed requests across two restarts under load: the kit's naive and rolling
  restarts, the articles' rolling restart (cluster.js), ``pm2 reload`` (restarts);
- ``blocked``: the /health probe's p99 while 50 ms burns run on the loop, then offloaded: a
  process pool in Python, a worker_threads pool in Node (one_process);
- ``chat``: Socket.IO across workers without sticky sessions, and with sticky + the Redis adapter.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from corelab.harness.quick import pick
from corelab.harness.results import Runs, new_results_dir
from corelab.harness.run import bench
from corelab.lessons.connections.burst_result import BurstResult
from corelab.lessons.connections.bursts import Target, burst, node_targets
from corelab.lessons.connections.primary_cost import PrimaryCostResult
from corelab.lessons.connections.primary_cost_bench import measure_primary_cost
from corelab.lessons.connections.primary_cost_run import PrimaryCostConfig
from corelab.lessons.one_process.blocked_loop import run_blocked_loop
from corelab.lessons.restarts.under_load import RestartRuns, restart_under_load
from corelab.node_vs_python.claims import NodeVsPython, comparison
from plumbing.node import node_or_none

RESTART_KINDS = ("naive", "rolling", "node-rolling", "pm2-reload")
CHAT_VARIANTS = ("cluster", "pubsub", "node-cluster", "node-sticky")


def runtime_line() -> str:
    """Which Python and which Node this comparison runs, for the notebook's first cell."""
    node = node_or_none()
    return f"Python {sys.version.split()[0]} beside {node.describe() if node else 'no Node (the Node runs fail)'}"


# -- the sections: each one lesson's measurement with Node beside Python ---------------------------


def throughput(*, seconds: float | None = None, out: str | Path | None = None) -> Runs:
    """One process and the cluster (one worker per usable core), Python then Node, 10 ms of CPU each."""
    return bench(
        ["single", "node-single", "cluster", "node-cluster"], scenario="cpu", seconds=seconds or pick(15, 6), out=out
    )


def bursts(*, trials: int | None = None, out: str | Path | None = None) -> BurstResult:
    """The kit's rr and shared socket, then Node's rr and none: how often a burst left a worker idle."""
    kit = [Target("rr", "cluster", "rr"), Target("shared", "cluster", "shared")]
    return burst([*kit, *node_targets()], trials=trials or pick(20, 6), seconds=pick(3, 2), out=out)


def primary(*, seconds: float | None = None, out: str | Path | None = None) -> PrimaryCostResult:
    """The primary's CPU per connection: the kit's rr primary, then Node's cluster primary."""
    config = PrimaryCostConfig(policies=("rr",), seconds=seconds or pick(10, 5))
    return measure_primary_cost(config, out=out)


def restarts(*, seconds: float | None = None, out: str | Path | None = None) -> RestartRuns:
    """Two restarts under load per kind (a third and two thirds of the way): failed requests counted."""
    length = seconds or pick(24, 12)
    return restart_under_load(RESTART_KINDS, seconds=length, at=(length / 3, 2 * length / 3), out=out)


def blocked(*, seconds: float | None = None, out: str | Path | None = None) -> Runs:
    """50 ms burns beside a /health probe: on the loop, then off it (Python: process pool; Node: worker_threads)."""
    root = Path(out) if out else new_results_dir("blocked-node")
    length = seconds or pick(12, 6)
    run_blocked_loop(("none", "process"), variant="single", seconds=length, out=root)
    return run_blocked_loop(("none", "thread"), variant="node-single", seconds=length, out=root)


def chat(*, seconds: float | None = None, out: str | Path | None = None) -> Runs:
    """The chat across workers: without sticky sessions, and with sticky + the Redis adapter, each runtime."""
    return bench(CHAT_VARIANTS, scenario="chat", seconds=seconds or pick(15, 8), redis=True, out=out)


# -- python -m corelab node-vs-python ---------------------------------------------------------------

SECTIONS: dict[str, Callable[..., Any]] = {
    "throughput": throughput,
    "bursts": bursts,
    "primary": primary,
    "restarts": restarts,
    "blocked": blocked,
    "chat": chat,
}


def measure_all(root: Path, progress: TextIO | None = sys.stdout) -> NodeVsPython:
    """Every section in turn, each into its own folder under ``root``, then the comparison."""
    results = {}
    for i, (name, section) in enumerate(SECTIONS.items(), start=1):
        if progress:
            print(f"== {i}/{len(SECTIONS)} {name}", file=progress, flush=True)
        results[name] = section(out=root / name)
    return comparison(*results.values())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", help="folder for the results (default: results/node-vs-python-<time>)")


def run_command(args: argparse.Namespace) -> int:
    root = Path(args.out) if args.out else new_results_dir("node-vs-python")
    result = measure_all(root)
    print()
    print(result.table.to_string(index=False, na_rep="-"))
    print()
    print(result.sentence())
    print(f"results in {root}")
    return 0
