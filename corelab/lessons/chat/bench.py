"""Benchmarks for sticky sessions and the Redis adapter, each printing the figures it measured.

python -m corelab chat delivery [--seconds 90] [--users N]
                                                       pubsub: deliveries, losses, latency percentiles
python -m corelab chat sticky-cost [--seconds 20] [--rounds 2]
                                                       CPU scenario: sticky routing vs the rr policy
python -m corelab chat outage [--seconds 30]      pubsub while its Redis is stopped and started
python -m corelab chat stop [--clients 20] [--rounds 3]
                                                       sticky and pubsub: SIGTERM to exit with chat clients
python -m corelab chat restart [--clients 20] [--rounds 3]
                                                       pubsub: rolling restart with clients chatting

Run them alone on the machine (e.g. under `flock /tmp/corelab-load.lock`): they measure speed.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
from dataclasses import asdict
from pathlib import Path

from corelab.harness.chat_results import delivery, handshakes
from corelab.harness.results import Runs, load_runs, machine_info, new_results_dir, write_json
from corelab.harness.run import bench
from corelab.lessons.chat.claims import chat_outcome, outage_summary
from corelab.lessons.chat.drain import rolling_restart_with_chat, stop_with_clients
from corelab.lessons.chat.outage import redis_outage


def bench_delivery(seconds: float, workers: int, users: int | None) -> int:
    runs = bench(
        ["pubsub"],
        workers=workers,
        scenario="chat",
        seconds=seconds,
        users=users,
        redis=True,
        out=new_results_dir("delivery"),
    )
    print(delivery(runs).drop(columns=["run"]).to_string(index=False))
    print(handshakes(runs).drop(columns=["run"]).to_string(index=False))
    print(f"\n{chat_outcome(runs)}")
    sent = _messages_sent(runs)
    print(f"messages sent: {sent} (each owed to the other members of its room)")
    print(f"results in {runs.root}")
    return 0


def _messages_sent(runs: Runs) -> int:
    """Messages the users sent, from the load generator's log line (see loadtests/chat.py)."""
    total = 0
    for run in runs.summary["run"]:
        match = re.search(r"chat: (\d+) messages sent", (Path(runs.root) / run / "locust.log").read_text())
        total += int(match.group(1)) if match else 0
    return total


def bench_sticky_cost(seconds: float, rounds: int, workers: int) -> int:
    out = new_results_dir("sticky-cost")
    # Alternate the two, so slow drift in the machine's speed hits both alike.
    for _ in range(rounds):
        bench(["cluster"], workers=workers, policies=["rr"], scenario="cpu", seconds=seconds, out=out)
        bench(["sticky"], workers=workers, scenario="cpu", seconds=seconds, out=out)
    summary = load_runs(out).summary
    by_policy = summary.groupby("policy")["rps"].agg(["mean", "min", "max", "count"])
    print(summary[["label", "rps", "p50_ms", "p99_ms", "failures", "generator_bound"]].to_string(index=False))
    print(by_policy.to_string())
    # Other load on a shared machine only ever slows a run down, so the best run of each is the
    # fairest comparison; the mean is shown too.
    for stat in ("max", "mean"):
        rr, sticky = by_policy.loc["rr", stat], by_policy.loc["sticky", stat]
        print(f"sticky vs rr on the CPU scenario ({stat}): {sticky:.1f} vs {rr:.1f} req/s, cost {1 - sticky / rr:+.1%}")
    print(f"results in {out}")
    return 0


def bench_outage(seconds: float, workers: int) -> int:
    runs = redis_outage(
        workers=workers, seconds=seconds, down_at=seconds / 3, down_for=seconds / 5, out=new_results_dir("outage")
    )
    print(delivery(runs).drop(columns=["run"]).to_string(index=False))
    print(f"\n{outage_summary(runs)}")
    print(f"results in {runs.root}")
    return 0


def bench_stop(clients: int, workers: int, rounds: int) -> int:
    out = new_results_dir("stop")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    # Alternate the variants, so slow drift in the machine's load hits both alike.
    for i in range(rounds):
        for variant in ("sticky", "pubsub"):
            result = asyncio.run(
                stop_with_clients(variant, clients=clients, workers=workers, log_path=out / f"{variant}-{i + 1}.log")
            )
            print(result, flush=True)
            results.append(result)
    print()
    for variant in ("sticky", "pubsub"):
        seconds = [r.seconds for r in results if r.variant == variant]
        killed = sum(r.workers_killed for r in results if r.variant == variant)
        print(
            f"{variant} x{workers}, {clients} chat clients: SIGTERM to exit median {statistics.median(seconds):.2f} s, "
            f"max {max(seconds):.2f} s over {len(seconds)} stops; {killed} workers killed"
        )
    write_json(out / "stop.json", {"machine": machine_info(), "results": [asdict(r) for r in results]})
    print(f"results in {out}")
    return 0


def bench_restart(clients: int, workers: int, rounds: int) -> int:
    out = new_results_dir("restart")
    out.mkdir(parents=True, exist_ok=True)
    results = []
    for i in range(rounds):
        result = asyncio.run(
            rolling_restart_with_chat("pubsub", clients=clients, workers=workers, log_path=out / f"pubsub-{i + 1}.log")
        )
        print(result, flush=True)
        results.append(result)
    per_worker = [r.seconds for result in results for r in result.replacements if r.seconds is not None]
    print(
        f"\npubsub x{workers}, {clients} chat clients, {rounds} rolling restarts: per worker median "
        f"{statistics.median(per_worker):.2f} s, max {max(per_worker):.2f} s; clients back on new workers "
        f"{sum(r.reconnected for r in results)} of {clients * rounds}; during the restarts "
        f"{sum(r.delivered for r in results)} of {sum(r.owed for r in results)} deliveries arrived, "
        f"{sum(r.lost for r in results)} lost (at most once), {sum(r.not_sent for r in results)} sends not made"
    )
    rows = [{k: v for k, v in asdict(r).items() if k != "log"} for r in results]
    write_json(out / "restart.json", {"machine": machine_info(), "results": rows})
    print(f"results in {out}")
    return 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab chat``'s options."""
    parser.add_argument("which", choices=("delivery", "sticky-cost", "outage", "stop", "restart"))
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--rounds", type=int, default=None, help="sticky-cost: 2; stop, restart: 3")
    parser.add_argument("--clients", type=int, default=20, help="stop, restart: chat clients connected")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--users", type=int, default=None, help="chat users (default: the scenario's)")


def run_command(args: argparse.Namespace) -> int:
    """The chosen benchmark."""
    if args.which == "delivery":
        return bench_delivery(args.seconds or 90, args.workers, args.users)
    if args.which == "sticky-cost":
        return bench_sticky_cost(args.seconds or 20, args.rounds or 2, args.workers)
    if args.which == "stop":
        return bench_stop(args.clients, args.workers, args.rounds or 3)
    if args.which == "restart":
        return bench_restart(args.clients, args.workers, args.rounds or 3)
    return bench_outage(args.seconds or 30, args.workers)
