"""Lesson 12, beyond one machine: hosts behind a real load balancer (servers.fleet), measured.

What a load balancer does for a fleet and what it costs, each a function returning a claim
(``corelab.claim``: a sentence with this run's numbers, and those numbers as fields), stored as
JSON in its folder and read back with ``load_fleet``. One module per job:

- ``fleet_spread``     round robin spreads a client's requests over the hosts; ``cookie`` keeps it on one
- ``fleet_delivery``   Socket.IO across hosts: ``socketio_across_hosts(runs)`` reads the harness's chat runs
                       against the ``fleet`` variant; ``measure_delivery`` is the benchmark's own room
- ``fleet_failover``   a host SIGKILLed under load: requests lost, time to route around it, its return
- ``fleet_cost``       the load balancer's CPU per 1,000 requests and the latency it adds (p50, p99)
- ``fleet_faults``     the load balancer or Redis SIGKILLed under load: what clients see, nothing hangs
- ``fleet_handle``     the running fleet and its process tree; ``fleet_clients`` the paced HTTP and
                       Socket.IO clients; ``fleet_store`` the folder and its JSON

The clients are bounded loops of real requests from this process (http.client,
python-socketio), not Locust: each request's time, outcome and host is kept, which a
time-to-route-around needs. Run alone on the machine (under `flock /tmp/corelab-load.lock`).

    python -m corelab fleet overhead|failover|delivery|faults|all   (the benchmark: every figure, printed)
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corelab.harness.results import machine_info
from corelab.lessons.fleet.cost import BalancerCost, fleet_cost
from corelab.lessons.fleet.delivery import (
    CrossHostDelivery,
    SocketIOAcrossHosts,
    measure_delivery,
    socketio_across_hosts,
)
from corelab.lessons.fleet.failover import (
    FAILOVER_CASES,
    QUICK_FAILOVER_CASES,
    Failover,
    FleetFailover,
    fleet_failover,
)
from corelab.lessons.fleet.faults import BalancerKill, Faults, RedisKill, fleet_faults
from corelab.lessons.fleet.spread import FleetSpread, Spread, fleet_spread
from corelab.lessons.fleet.store import fleet_folder, stored

__all__ = [
    "FAILOVER_CASES",
    "QUICK_FAILOVER_CASES",
    "BalancerCost",
    "BalancerKill",
    "CrossHostDelivery",
    "Failover",
    "Faults",
    "FleetFailover",
    "FleetResults",
    "FleetSpread",
    "RedisKill",
    "SocketIOAcrossHosts",
    "Spread",
    "add_arguments",
    "fleet_cost",
    "fleet_failover",
    "fleet_faults",
    "fleet_spread",
    "load_fleet",
    "measure_delivery",
    "run_fleet",
    "socketio_across_hosts",
]


@dataclass
class FleetResults:
    """What a folder of fleet measurements holds (each list empty when that part was not run)."""

    spread: list[Spread]
    failover: list[Failover]
    cost: list[BalancerCost]
    faults: list[Faults]


def load_fleet(folder: str | Path) -> FleetResults:
    """The measurements stored in ``folder`` (by fleet_spread, fleet_failover, fleet_cost, fleet_faults)."""
    folder = Path(folder)
    return FleetResults(
        spread=[Spread(**s) for s in stored(folder, "spread")],
        failover=[Failover(**f) for f in stored(folder, "failover")],
        cost=[BalancerCost(**c) for c in stored(folder, "cost")],
        faults=[
            Faults(BalancerKill(**f["balancer"]), RedisKill(**f["redis"]), f["folder"])
            for f in stored(folder, "faults")
        ],
    )


# -- the command: python -m corelab fleet -------------------------------------------------------

WHAT = ("overhead", "failover", "delivery", "faults", "all")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", choices=WHAT, help="which measurement (all: every one)")
    parser.add_argument("--requests", type=int, default=3000, help="overhead: requests per path")
    parser.add_argument("--rate", type=float, default=200, help="failover, faults: requests per second")
    parser.add_argument("--clients", type=int, default=10, help="delivery: Socket.IO clients in the room")
    parser.add_argument("--messages", type=int, default=50, help="delivery: messages each client sends")
    parser.add_argument("--out", type=Path, help="folder for logs and figures (default: results/fleet-<time>)")


def _machine() -> str:
    info = machine_info()
    return f"{info['cores']} vCPU {info['cpu_model']}, Python {info['python']}"


def run_fleet(args: argparse.Namespace) -> int:
    """Measure, print the figures with the machine they were measured on, and keep them in figures.json."""
    out = fleet_folder(args.out)
    figures: dict[str, Any] = {"machine": _machine()}
    print(f"fleet measurements on {figures['machine']}; logs and figures in {out}")
    if args.what in ("overhead", "all"):
        cost = fleet_cost(args.requests, out=out)
        figures["overhead"] = asdict(cost)
        print(f"\n{cost.table()}")
    if args.what in ("failover", "all"):
        print(f"\na host SIGKILLed under {args.rate:g} req/s (round robin over 2 hosts, active checks every 1 s):")
        failover = fleet_failover(args.rate, out=out)
        figures["failover"] = [asdict(r) for r in failover.cases]
        print(failover.table())
    if args.what in ("delivery", "all"):
        delivery = measure_delivery(args.clients, args.messages, out)
        figures["delivery"] = asdict(delivery)
        print(f"\n{delivery.table()}")
    if args.what in ("faults", "all"):
        faults = fleet_faults(min(args.rate, 100), out=out)
        figures["faults"] = asdict(faults)
        print(f"\n{faults.table()}")
    (out / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    return 0
