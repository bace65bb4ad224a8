"""Socket.IO across hosts: the cookie keeps each client on its host, Redis carries messages between hosts.

Two measurements of it: ``socketio_across_hosts(runs)`` reads the harness's chat runs against the
``fleet`` variant (``bench(["fleet"], policies=["round_robin", "cookie"], scenario="chat")``:
Locust's users, handshakes and ledger); ``measure_delivery`` is the benchmark's own room of
python-socketio clients, with each delivery's latency within and across hosts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corelab.claim import Claim
from corelab.lessons.fleet.clients import chat_clients, percentile
from corelab.lessons.fleet.handle import running_fleet

if TYPE_CHECKING:
    from corelab.harness.results import Runs


@dataclass
class SocketIOAcrossHosts(Claim):
    """Per load-balancing policy: Socket.IO handshakes tried and failed, messages owed to users on
    another host and delivered (``policies`` maps the policy to those numbers)."""

    policies: dict[str, dict[str, Any]]

    def fields(self) -> dict[str, Any]:
        return {policy: dict(numbers) for policy, numbers in self.policies.items()}

    def sentence(self) -> str:
        lines = []
        for policy, n in self.policies.items():
            line = f"--lb {policy}: {n['handshakes_failed']} of {n['handshakes']} Socket.IO handshakes failed"
            if n["other_host_expected"]:
                line += (
                    f"; {n['other_host_delivered']} of {n['other_host_expected']} messages to users on the other "
                    f"host delivered"
                )
                if n["other_host_p99_ms"] is not None:
                    line += f", p99 {n['other_host_p99_ms']:.0f} ms"
            lines.append(line + ".")
        return "\n".join(lines)


def socketio_across_hosts(runs: Runs) -> SocketIOAcrossHosts:
    """The claim in chat runs against the fleet, one run per ``--lb`` policy (the runs' ``policy``)."""
    from corelab.harness.chat_results import delivery, handshakes  # pandas: only when a notebook asks

    shakes = handshakes(runs).set_index("run")
    other = delivery(runs).query("recipients == 'other worker'").set_index("run")
    policies = {}
    for row in runs.summary.itertuples():
        p99 = other.loc[row.run, "p99_ms"]
        policies[str(row.policy)] = {
            "handshakes": int(shakes.loc[row.run, "attempts"]),
            "handshakes_failed": int(shakes.loc[row.run, "failed"]),
            "other_host_expected": int(other.loc[row.run, "expected"]),
            "other_host_delivered": int(other.loc[row.run, "delivered"]),
            "other_host_p99_ms": None if p99 != p99 else round(float(p99), 1),  # NaN: none delivered
        }
    return SocketIOAcrossHosts(policies)


@dataclass
class CrossHostDelivery(Claim):
    """A room of clients over two hosts (cookie): deliveries owed and made, latency within and across hosts."""

    clients: int
    hosts_used: int
    messages_sent: int
    expected: int
    delivered: int
    ratio: float
    cross_host_expected: int
    cross_host_delivered: int
    p50_ms: float
    p99_ms: float
    cross_host_p50_ms: float
    cross_host_p99_ms: float

    def sentence(self) -> str:
        return (
            f"{self.clients} Socket.IO clients on {self.hosts_used} hosts: {self.delivered} of {self.expected} "
            f"deliveries made ({self.ratio:.2%}), {self.cross_host_delivered} of {self.cross_host_expected} across "
            f"hosts; p99 {self.p99_ms:.1f} ms, across hosts {self.cross_host_p99_ms:.1f} ms."
        )

    def table(self) -> str:
        """The benchmark's printout (``python -m corelab fleet delivery``)."""
        return (
            f"Socket.IO across hosts (cookie, 2 hosts x 2 workers, {self.clients} clients on {self.hosts_used} hosts, "
            f"{self.messages_sent} messages):\n"
            f"  {self.delivered} of {self.expected} deliveries ({self.ratio:.2%}); across hosts "
            f"{self.cross_host_delivered} of {self.cross_host_expected}\n"
            f"  latency p50 {self.p50_ms:.1f} ms  p99 {self.p99_ms:.1f} ms; across hosts p50 "
            f"{self.cross_host_p50_ms:.1f} ms p99 {self.cross_host_p99_ms:.1f} ms"
        )


def measure_delivery(clients: int, messages: int, log_dir: Path, pace_s: float = 0.005) -> CrossHostDelivery:
    """Clients in one room, spread over two hosts by the cookie; each sends ``messages``; all receive all."""
    args = ["--hosts", "2", "--workers", "2", "--lb", "cookie"]
    with running_fleet(*args, log_path=log_dir / "delivery.log") as f:
        host_of = f.host_of_worker()
        with chat_clients(f.url, clients, "fleet") as chat:
            sender_host = {i: host_of.get(w or -1, "?") for i, w in enumerate(chat.workers)}
            for seq in range(messages):
                for i, sio in enumerate(chat.socks):
                    text = f"{i}:{seq}"
                    sio.emit("chat", {"room": "fleet", "text": text, "seq": seq, "sent_ms": time.time() * 1000})
                    time.sleep(pace_s)
            expected = clients * messages * clients
            deadline = time.monotonic() + 15
            while sum(map(len, chat.received)) < expected and time.monotonic() < deadline:
                time.sleep(0.05)
    latencies, cross = [], []
    cross_expected = 0
    for recipient in range(clients):
        for sender in range(clients):
            if sender_host[sender] != sender_host[recipient]:
                cross_expected += messages
        seen = set()
        for data, _t, recv_ms in chat.received[recipient]:
            if data["text"] in seen:
                continue
            seen.add(data["text"])
            ms = recv_ms - data["sent_ms"]
            latencies.append(ms)
            if sender_host[int(data["text"].split(":")[0])] != sender_host[recipient]:
                cross.append(ms)
    delivered = len(latencies)
    return CrossHostDelivery(
        clients=clients,
        hosts_used=len(set(sender_host.values())),
        messages_sent=clients * messages,
        expected=expected,
        delivered=delivered,
        ratio=round(delivered / expected, 5),
        cross_host_expected=cross_expected,
        cross_host_delivered=len(cross),
        p50_ms=round(percentile(latencies, 50), 2),
        p99_ms=round(percentile(latencies, 99), 2),
        cross_host_p50_ms=round(percentile(cross, 50), 2),
        cross_host_p99_ms=round(percentile(cross, 99), 2),
    )
