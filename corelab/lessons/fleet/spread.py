"""The load balancer is the fleet's primary: round robin spreads a client's requests over the hosts,
``--lb cookie`` keeps each client on the host its first request reached."""

from __future__ import annotations

import http.cookiejar
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corelab.claim import Claim
from corelab.lessons.fleet.handle import FleetHandle, running_fleet
from corelab.lessons.fleet.store import fleet_folder, store


@dataclass
class Spread(Claim):
    """Where each client's requests landed behind one load-balancing policy."""

    lb: str
    clients: int
    requests_per_client: int
    # Requests each host answered, over all clients (every host of the fleet, 0 when it got none).
    requests_per_host: dict[str, int]
    # For each client: requests each host answered.
    per_client: list[dict[str, int]]
    folder: str = ""

    @property
    def hosts_per_client(self) -> list[int]:
        """How many hosts each client's requests reached."""
        return [sum(1 for n in hosts.values() if n) for hosts in self.per_client]

    def fields(self) -> dict[str, Any]:
        counts = list(self.requests_per_host.values())
        return {
            "lb": self.lb,
            "clients": self.clients,
            "requests_per_client": self.requests_per_client,
            "hosts": len(counts),
            "min_hosts_per_client": min(self.hosts_per_client, default=0),
            "max_hosts_per_client": max(self.hosts_per_client, default=0),
            "min_requests_per_host": min(counts, default=0),
            # The least-loaded host's share of all requests (0.5 is an even split over 2 hosts).
            "min_host_share": round(min(counts) / sum(counts), 3) if sum(counts) else 0.0,
        }

    def sentence(self) -> str:
        f = self.fields()
        low, high = f["min_hosts_per_client"], f["max_hosts_per_client"]
        reached = f"{low}" if low == high else f"{low} to {high}"
        answered = " and ".join(str(n) for n in self.requests_per_host.values())
        return (
            f"--lb {self.lb}: each of {self.clients} clients' {self.requests_per_client} requests reached "
            f"{reached} of the {f['hosts']} hosts; the hosts answered {answered}"
        )


@dataclass
class FleetSpread(Claim):
    """Round robin spreads each client over the hosts; the cookie keeps each on one, new clients on each."""

    round_robin: Spread
    cookie: Spread
    folder: str = ""

    @property
    def policies(self) -> list[Spread]:
        return [self.round_robin, self.cookie]

    def fields(self) -> dict[str, Any]:
        return {"round_robin": self.round_robin.fields(), "cookie": self.cookie.fields()}

    def sentence(self) -> str:
        return f"{self.round_robin.sentence()}.\n{self.cookie.sentence()}."


def measure_spread(fleet: FleetHandle, lb: str, clients: int, per_client: int) -> Spread:
    """Each client keeps its cookies (as a browser does) and sends ``per_client`` GET / in turn."""
    host_of = fleet.host_of_worker()
    hosts = sorted(set(host_of.values()))
    per_host = dict.fromkeys(hosts, 0)
    counts = []
    for _ in range(clients):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        mine = dict.fromkeys(hosts, 0)
        for _ in range(per_client):
            with opener.open(f"{fleet.url}/", timeout=10) as resp:
                host = host_of.get(int(resp.headers["X-Worker-Pid"]), "?")
            per_host[host] = per_host.get(host, 0) + 1
            mine[host] = mine.get(host, 0) + 1
        counts.append(mine)
    return Spread(lb, clients, per_client, per_host, counts)


def fleet_spread(requests: int = 20, clients: int = 4, out: str | Path | None = None) -> FleetSpread:
    """Two hosts behind ``round_robin``, then behind ``cookie``: where each client's requests land."""
    folder = fleet_folder(out)
    spreads = []
    for lb in ("round_robin", "cookie"):
        with running_fleet("--hosts", "2", "--workers", "1", "--lb", lb, log_path=folder / f"spread-{lb}.log") as f:
            spreads.append(measure_spread(f, lb, clients, requests))
    for s in spreads:
        s.folder = str(folder)
    store(folder, "spread", spreads)
    return FleetSpread(*spreads, folder=str(folder))
