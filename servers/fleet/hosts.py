"""A fleet's host: a pubsub cluster (sticky sessions plus the Redis adapter) on its own loopback address.

A host runs what ``python -m servers.pubsub --redis-url URL`` runs: the cluster with the sticky
policy, and workers whose Socket.IO server relays every emit through Redis. It is started as
``servers.cluster --policy sticky`` with pubsub's two environment variables set by the fleet,
because servers.pubsub names its Redis channel after its own pid: two pubsub hosts on one Redis
would each listen on a channel of their own and no message would cross from one to the other.
Every host of a fleet shares one channel, named after the fleet.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from plumbing.env import CHAT_CHANNEL as REDIS_CHANNEL_ENV
from plumbing.env import CHAT_REDIS_URL as REDIS_URL_ENV
from servers.fleet.children import Child
from servers.fleet.config import FleetConfig

# The line a cluster's primary writes when every worker serves.
CLUSTER_READY = "cluster ready"


@dataclass
class Host:
    index: int  # 1-based, as a person counts them
    address: str
    port: int
    child: Child
    reported_dead: bool = False

    @property
    def upstream(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.upstream}"

    def describe(self) -> str:
        return f"host {self.index} ({self.upstream})"


def fleet_channel() -> str:
    return f"corelab-fleet-{os.getpid()}"


def host_command(config: FleetConfig, address: str) -> list[str]:
    return [
        sys.executable, "-m", "servers.cluster",
        "--policy", "sticky",
        "--host", address,
        "--port", str(config.upstream_port),
        "--workers", str(config.workers),
        "--app", config.app,
        "--graceful-timeout", f"{config.graceful_timeout:g}",
    ]  # fmt: skip


def start_host(
    config: FleetConfig, index: int, address: str, redis_url: str, run_dir: Path, cores: list[int] | None
) -> Host:
    env = {REDIS_URL_ENV: redis_url, REDIS_CHANNEL_ENV: fleet_channel()}
    child = Child(
        f"host {index}",
        host_command(config, address),
        log_path=run_dir / f"host-{index}.log",
        env=env,
        cores=cores,
        grace=config.graceful_timeout + 3.0,
    )
    return Host(index, address, config.upstream_port, child)


def host_ready(host: Host) -> bool:
    try:
        return CLUSTER_READY in host.child.log_path.read_text(errors="replace")
    except OSError:
        return False
