"""Faults under load: the load balancer (Caddy) or the fleet's Redis SIGKILLed. What clients see,
what the fleet says and does, and that nothing hangs or is left running."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corelab.claim import Claim
from corelab.lessons.fleet.clients import chat_clients, paced_load
from corelab.lessons.fleet.handle import running_fleet, still_running
from corelab.lessons.fleet.store import fleet_folder, store


@dataclass
class BalancerKill(Claim):
    """Caddy SIGKILLed under load: the fleet has lost its only front door."""

    rate_per_s: float
    requests_before: int
    # Requests sent after the kill and how each ended (ConnectionRefusedError: nothing listens).
    after_by_kind: dict[str, int]
    # From the kill to the first refused connection, and to the slowest failure after the kill.
    first_refused_after_s: float | None
    slowest_failure_ms: float
    # The fleet noticed, stopped every host and Redis, and exited: its code and how long it took.
    fleet_exit_code: int | None
    fleet_exited_after_s: float | None
    fleet_said: str
    left_behind: list[str]

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "after_by_kind": dict(self.after_by_kind), "left_behind": list(self.left_behind)}

    def sentence(self) -> str:
        refused = "never" if self.first_refused_after_s is None else f"{self.first_refused_after_s * 1000:.0f} ms"
        exited = "never" if self.fleet_exited_after_s is None else f"{self.fleet_exited_after_s:.2f} s"
        return (
            f"the load balancer SIGKILLed under {self.rate_per_s:g} req/s: the first connection was refused "
            f"{refused} after the kill (slowest failure {self.slowest_failure_ms:.0f} ms); the fleet exited with "
            f"code {self.fleet_exit_code} after {exited}, leaving {', '.join(self.left_behind) or 'nothing'} running."
        )


@dataclass
class RedisKill(Claim):
    """The fleet's Redis SIGKILLed while two chat clients on two hosts talk and HTTP load runs."""

    # Seconds from the kill: the fleet had a new Redis, and a message crossed hosts again.
    redis_back_after_s: float | None
    cross_host_resumed_after_s: float | None
    # Chat messages (one every message_interval_s from each client) sent from the kill until delivery resumed.
    cross_host_sent_in_gap: int
    cross_host_lost: int
    cross_host_delivered: int
    # Each client's own messages come back from its own host: local delivery does not need Redis.
    same_host_lost: int
    same_host_delivered: int
    http_ok: int
    http_failed: int
    fleet_said: list[str]
    # SIGTERM to the fleet afterwards: its exit code, how long it took, what was left running.
    fleet_exit_code: int | None
    fleet_stopped_after_s: float | None
    left_behind: list[str]

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "fleet_said": list(self.fleet_said), "left_behind": list(self.left_behind)}

    def sentence(self) -> str:
        return (
            f"Redis SIGKILLed mid-chat: a new Redis {self.redis_back_after_s} s after the kill, messages crossed "
            f"hosts again after {self.cross_host_resumed_after_s} s ({self.cross_host_lost} lost across hosts, "
            f"{self.same_host_lost} on the sender's own host); HTTP meanwhile: {self.http_ok} ok, "
            f"{self.http_failed} failed."
        )


def measure_balancer_kill(rate: float, log_dir: Path, before_s: float = 2.0, after_s: float = 2.0) -> BalancerKill:
    with running_fleet("--hosts", "2", "--workers", "1", log_path=log_dir / "fault-balancer.log") as f:
        family = f.family()
        caddy = f.caddy()
        with paced_load(f.port, rate) as load:
            time.sleep(before_s)
            killed_at = time.monotonic()
            caddy.kill()
            code = f.process.wait(30)
            exited_after = time.monotonic() - killed_at
            time.sleep(max(0.0, killed_at + after_s - time.monotonic()))
        left = still_running(family)
        said = [line for line in f.process.log_text().splitlines() if line.startswith("error:")]
    before = [r for r in load.results if r[0] < killed_at]
    after = [r for r in load.results if r[0] >= killed_at]
    refused = [t for t, outcome, _p, _ms in after if outcome == "ConnectionRefusedError"]
    return BalancerKill(
        rate_per_s=rate,
        requests_before=len(before),
        after_by_kind=dict(Counter(outcome for _t, outcome, _p, _ms in after)),
        first_refused_after_s=round(min(refused) - killed_at, 4) if refused else None,
        slowest_failure_ms=round(max((ms for _t, o, _p, ms in after if o != "ok"), default=0.0), 1),
        fleet_exit_code=code,
        fleet_exited_after_s=round(exited_after, 3),
        fleet_said=said[-1] if said else "",
        left_behind=left,
    )


def measure_redis_kill(
    log_dir: Path, before_s: float = 2.0, after_s: float = 6.0, message_interval_s: float = 0.05, rate: float = 50
) -> RedisKill:
    """Two chat clients, one per host (the cookie's round robin puts the second on the other host), each
    sending a message every ``message_interval_s``; Redis SIGKILLed ``before_s`` in, ``after_s`` more."""
    with running_fleet("--hosts", "2", "--workers", "1", "--lb", "cookie", log_path=log_dir / "fault-redis.log") as f:
        host_of = f.host_of_worker()
        family = f.family()
        # (sender, seq) -> send time
        sent: dict[tuple[int, int], float] = {}
        with chat_clients(f.url, 2, "faults") as chat:
            hosts = [host_of.get(w or -1) for w in chat.workers]
            if len(set(hosts)) != 2:
                raise RuntimeError(f"the two chat clients share a host: {hosts}")
            redis = f.redis()
            with paced_load(f.port, rate, clients=2) as load:
                killed_at = time.monotonic() + before_s
                seq = 0
                killed = False
                redis_back: float | None = None
                while time.monotonic() < killed_at + after_s:
                    if not killed and time.monotonic() >= killed_at:
                        killed_at = time.monotonic()
                        redis.kill()
                        killed = True
                    if killed and redis_back is None and f.has_new_redis(redis.pid):
                        redis_back = time.monotonic()
                    for i, sio in enumerate(chat.socks):
                        sent[(i, seq)] = time.monotonic()
                        sio.emit("chat", {"room": "faults", "text": f"{i}:{seq}", "seq": seq, "sent_ms": 0})
                    seq += 1
                    time.sleep(message_interval_s)
                time.sleep(1.0)  # the last messages arrive
        said = [line.removeprefix("fleet: ") for line in f.process.log_text().splitlines() if "Redis" in line]
        stopping = time.monotonic()
        code = f.process.stop()
        stopped_after = time.monotonic() - stopping
        left = still_running(family)
    # What each client received, as (sender, seq): from the other client (across hosts) or its own.
    got = [[tuple(map(int, data["text"].split(":"))) for data, _t, _wall in chat.received[r]] for r in (0, 1)]
    cross = {(s, q) for r in (0, 1) for s, q in got[r] if s != r}
    own = {(s, q) for r in (0, 1) for s, q in got[r] if s == r}
    resumed = min((sent[k] for k in cross if sent[k] > killed_at), default=None)
    gap_end = resumed if resumed is not None else killed_at + after_s
    in_gap = [k for k, t in sent.items() if killed_at <= t < gap_end]
    return RedisKill(
        redis_back_after_s=None if redis_back is None else round(redis_back - killed_at, 3),
        cross_host_resumed_after_s=None if resumed is None else round(resumed - killed_at, 3),
        cross_host_sent_in_gap=len(in_gap),
        cross_host_lost=sum(1 for k in sent if k not in cross),
        cross_host_delivered=len(cross),
        same_host_lost=sum(1 for k in sent if k not in own),
        same_host_delivered=len(own),
        http_ok=sum(1 for r in load.results if r[1] == "ok"),
        http_failed=sum(1 for r in load.results if r[1] != "ok"),
        fleet_said=said,
        fleet_exit_code=code,
        fleet_stopped_after_s=round(stopped_after, 3),
        left_behind=left,
    )


@dataclass
class Faults(Claim):
    """The load balancer killed under load, then (in a new fleet) Redis killed mid-chat."""

    balancer: BalancerKill
    redis: RedisKill
    folder: str = ""

    def fields(self) -> dict[str, Any]:
        return {"balancer": self.balancer.fields(), "redis": self.redis.fields()}

    def sentence(self) -> str:
        return f"{self.balancer.sentence()}\n{self.redis.sentence()}"

    def table(self) -> str:
        """The benchmark's printout (``python -m corelab fleet faults``)."""
        b, r = self.balancer, self.redis
        refused = "never" if b.first_refused_after_s is None else f"{b.first_refused_after_s * 1000:.0f} ms"
        return (
            f"the load balancer SIGKILLed under {b.rate_per_s:g} req/s:\n"
            f"  requests after the kill: {b.after_by_kind}; first refused connection {refused} after the kill, "
            f"slowest failure {b.slowest_failure_ms:.0f} ms\n"
            f"  the fleet exited with code {b.fleet_exit_code} {b.fleet_exited_after_s:.2f} s after the kill, "
            f"left running: {', '.join(b.left_behind) or 'nothing'}\n"
            f"  it said: {b.fleet_said}\n"
            f"Redis SIGKILLed mid-chat (2 clients on 2 hosts, HTTP load beside):\n"
            f"  the fleet started a new Redis {r.redis_back_after_s} s after the kill; "
            f"messages crossed hosts again {r.cross_host_resumed_after_s} s after the kill\n"
            f"  across hosts: {r.cross_host_lost} lost, {r.cross_host_delivered} delivered; on the sender's own host: "
            f"{r.same_host_lost} lost, {r.same_host_delivered} delivered\n"
            f"  HTTP meanwhile: {r.http_ok} ok, {r.http_failed} failed; SIGTERM then stopped the fleet in "
            f"{r.fleet_stopped_after_s:.2f} s (code {r.fleet_exit_code}), left running: "
            f"{', '.join(r.left_behind) or 'nothing'}"
        )


def fleet_faults(rate: float = 100, out: str | Path | None = None) -> Faults:
    """The load balancer SIGKILLed under load; then, in a new fleet, its Redis SIGKILLed mid-chat."""
    folder = fleet_folder(out)
    result = Faults(measure_balancer_kill(rate, folder), measure_redis_kill(folder))
    result.folder = str(folder)
    store(folder, "faults", result)
    return result
