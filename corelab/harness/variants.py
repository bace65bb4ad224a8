"""The server variants corelab can start, as small objects with one interface."""

from __future__ import annotations

import platform
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from plumbing.node import find_node, node_or_none
from plumbing.procs import python_module
from servers.cluster.policies import BALANCING_POLICIES, DEFAULT_POLICY
from servers.fleet.config import LB_POLICIES, FleetConfig, workers_per_host
from servers.fleet.loopback import check_loopback
from servers.node.launcher import READY_LINE as NODE_READY_LINE
from servers.node.packages import check as check_packages
from servers.node.variants import SCHED_POLICIES


@dataclass(frozen=True)
class Variant:
    name: str
    module: str
    # The balancing policies it takes, its default first (empty: one process, nothing to balance).
    policies: tuple[str, ...] = ()
    # A line in the server's log that says every worker is serving.
    ready_line: str | None = None

    @property
    def multi_worker(self) -> bool:
        return bool(self.policies)

    def workers_for(self, planned: int) -> int:
        """How many workers to give it when the load plan has ``planned`` for the machine."""
        return planned

    def check_machine(self) -> None:
        """Raise, with one line that says the fix, if this machine cannot run the variant; before any run."""

    def command(self, port: int, workers: int, policy: str | None) -> list[str]:
        args = ["--host", "127.0.0.1", "--port", str(port)]
        if self.multi_worker:
            args += ["--workers", str(workers), "--policy", policy or self.policies[0]]
        return python_module(self.module, *args)

    def runtime(self) -> dict[str, str | None]:
        """What serves the requests, for the run's meta.json: this Python, or Node and its version."""
        name = platform.python_implementation().lower()
        return {"name": name, "version": platform.python_version(), "path": sys.executable}


@dataclass(frozen=True)
class GunicornVariant(Variant):
    """The same app under gunicorn's arbiter and aiohttp's worker: the peer to compare with."""

    def command(self, port: int, workers: int, policy: str | None) -> list[str]:
        return python_module(
            "gunicorn",
            self.module,
            "--worker-class", "aiohttp.GunicornWebWorker",
            "--workers", str(workers),
            "--bind", f"127.0.0.1:{port}",
            "--graceful-timeout", "10",
        )  # fmt: skip


@dataclass(frozen=True)
class FleetVariant(Variant):
    """Hosts behind Caddy on one machine: ``workers`` is per host, so the hosts share the plan's workers."""

    hosts: int = 2  # servers.fleet's default

    def workers_for(self, planned: int) -> int:
        return workers_per_host(planned, self.hosts)

    def check_machine(self) -> None:
        # macOS has only 127.0.0.1 on lo0: LoopbackMissing names the `ifconfig lo0 alias` line.
        check_loopback(FleetConfig(hosts=self.hosts).host_addresses())


@dataclass(frozen=True)
class NodeVariant(Variant):
    """One of the articles' Node originals (servers/node), run by ``python -m servers.node NAME``."""

    node_name: str = "single"
    takes_policy: bool = False  # cluster's NODE_CLUSTER_SCHED_POLICY; PM2 and sticky have none to choose

    def command(self, port: int, workers: int, policy: str | None) -> list[str]:
        args = [self.node_name, "--host", "127.0.0.1", "--port", str(port)]
        if self.multi_worker:
            args += ["--workers", str(workers)]
        if self.takes_policy:
            args += ["--policy", policy or self.policies[0]]
        return python_module(self.module, *args)

    def check_machine(self) -> None:
        # NodeUnavailable / PackagesMissing: one line that says how to get Node or the npm packages.
        find_node()
        check_packages()

    def runtime(self) -> dict[str, str | None]:
        found = node_or_none()
        return found.fields() if found is not None else {"name": "node", "version": None, "path": None}


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("single", "servers.single"),
        # The cluster's policies as its registry lists them (servers/cluster/policies), default first.
        Variant(
            "cluster",
            "servers.cluster",
            (DEFAULT_POLICY, *(p for p in BALANCING_POLICIES if p != DEFAULT_POLICY)),
            ready_line="cluster ready",
        ),
        # The cluster with Socket.IO sticky sessions, and that plus the Redis adapter (servers/chat.py).
        Variant("sticky", "servers.sticky", ("sticky",), ready_line="cluster ready"),
        Variant("pubsub", "servers.pubsub", ("sticky",), ready_line="cluster ready"),
        # gunicorn's workers accept on one inherited socket, as the cluster's shared policy does.
        GunicornVariant("gunicorn", "servers.app:create_app()", ("shared",)),
        # Two pubsub hosts (W workers each) on 127.0.0.2 and .3 behind Caddy; the policy is Caddy's lb_policy.
        FleetVariant("fleet", "servers.fleet", LB_POLICIES, ready_line="fleet ready"),
        # The articles' Node code under the same load (servers/node): fixed names scripts rely on.
        NodeVariant("node-single", "servers.node", ready_line=NODE_READY_LINE, node_name="single"),
        NodeVariant(
            "node-cluster", "servers.node", SCHED_POLICIES, NODE_READY_LINE, node_name="cluster", takes_policy=True
        ),
        # PM2 runs Node's cluster with its default scheduling, rr; it has no other to choose.
        NodeVariant("node-pm2", "servers.node", ("rr",), NODE_READY_LINE, node_name="pm2"),
        NodeVariant("node-sticky", "servers.node", ("sticky",), NODE_READY_LINE, node_name="sticky"),
    )
}


def check_policies(variants: Sequence[str], policies: Sequence[str] | None) -> None:
    """Policies given where no variant takes one, or that a variant does not take: an error, never ignored."""
    if not policies:
        return
    chosen = [get_variant(name) for name in variants]
    if not any(v.policies for v in chosen):
        takers = ", ".join(v.name for v in VARIANTS.values() if v.policies)
        names = ", ".join(variants)
        raise ValueError(f"--policy: {names} is one process with nothing to balance; variants that take one: {takers}")
    for variant in chosen:
        for policy in policies:
            if variant.policies and policy not in variant.policies:
                raise ValueError(f"{variant.name} has no policy {policy!r}: choose from {', '.join(variant.policies)}")


def get_variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise ValueError(f"unknown variant {name!r}: choose from {', '.join(VARIANTS)}") from None
