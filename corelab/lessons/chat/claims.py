"""What notebooks 10 and 11 claim, read from their chat runs: what happened to each user and to each message.

    runs = bench(["cluster"], policies=["rr"], scenario="chat"); bench(["sticky"], ..., out=runs.root)
    chat_outcome(runs)      # 10: per variant, handshakes failed / made; messages to room-mates on the
                            #     sender's worker and on another, delivered / lost
    outage = redis_outage()
    outage_summary(outage)  # 11: Redis stopped under load: local delivery went on, cross-worker was lost

Both are claims (``corelab.claim``): a notebook shows the object, its test reads the fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from corelab.claim import Claim
from corelab.harness.chat_results import delivery, delivery_history, handshakes
from corelab.harness.results import Runs
from corelab.lessons.chat.outage import outages


@dataclass
class VariantChat:
    """One chat run: its users' handshakes and its messages, by where the room-mate sat."""

    label: str
    variant: str
    workers: int
    users: int
    handshakes: int  # Socket.IO connection attempts, retries included
    handshakes_failed: int
    same_worker_owed: int  # (message, room-mate on the sender's worker) pairs
    same_worker_delivered: int
    other_worker_owed: int  # (message, room-mate on another worker) pairs
    other_worker_delivered: int
    same_worker_p99_ms: float | None  # delivery latency of those that arrived
    other_worker_p50_ms: float | None
    other_worker_p99_ms: float | None

    @property
    def owed(self) -> int:
        return self.same_worker_owed + self.other_worker_owed

    @property
    def delivered(self) -> int:
        return self.same_worker_delivered + self.other_worker_delivered

    def fields(self) -> dict[str, Any]:
        return {
            **vars(self),
            "handshakes_failed_ratio": _ratio(self.handshakes_failed, self.handshakes),
            "same_worker_lost": self.same_worker_owed - self.same_worker_delivered,
            "same_worker_ratio": _ratio(self.same_worker_delivered, self.same_worker_owed),
            "other_worker_lost": self.other_worker_owed - self.other_worker_delivered,
            "other_worker_ratio": _ratio(self.other_worker_delivered, self.other_worker_owed),
            "owed": self.owed,
            "delivered": self.delivered,
            "ratio": _ratio(self.delivered, self.owed),
        }

    def lines(self) -> list[str]:
        f = self.fields()
        shakes = (
            f"{self.handshakes_failed} of {self.handshakes} Socket.IO handshakes failed "
            f"({f['handshakes_failed_ratio']:.0%}): those users never got into the chat until a retry"
            if self.handshakes_failed
            else f"all {self.handshakes} Socket.IO handshakes succeeded"
        )
        out = [
            f"{self.label}: {shakes}.",
            f"  to room-mates on the sender's worker: {self.same_worker_delivered:,} of {self.same_worker_owed:,} "
            f"delivered ({_pct(f['same_worker_ratio'])}), p99 {_ms(self.same_worker_p99_ms)}.",
            f"  to room-mates on another worker: {self.other_worker_delivered:,} of {self.other_worker_owed:,} "
            f"delivered ({_pct(f['other_worker_ratio'])})"
            + (
                f", p50 {_ms(self.other_worker_p50_ms)}, p99 {_ms(self.other_worker_p99_ms)}."
                if self.other_worker_delivered
                else "."
            ),
        ]
        if self.other_worker_owed and not self.other_worker_delivered and self.same_worker_owed:
            # The share that arrives is the share owed on the sender's worker, which need not be 1/N.
            out.append(
                f"  in all {self.delivered:,} of {self.owed:,} ({_pct(f['ratio'])}): exactly the share owed to "
                f"room-mates on the sender's worker; how the rooms fell across the {self.workers} workers sets it."
            )
        else:
            out.append(f"  in all {self.delivered:,} of {self.owed:,} delivered ({_pct(f['ratio'])}).")
        return out


@dataclass
class ChatOutcome(Claim):
    """Notebooks 10 and 11: per variant, which users got in and which messages reached which room-mates."""

    variants: list[VariantChat]

    def fields(self) -> dict[str, Any]:
        """Each run's numbers under its variant's name (its label when two runs share a variant)."""
        names = [v.variant for v in self.variants]
        return {(v.variant if names.count(v.variant) == 1 else v.label): v.fields() for v in self.variants}

    def sentence(self) -> str:
        return "\n".join(line for v in self.variants for line in v.lines())


def chat_outcome(runs: Runs) -> ChatOutcome:
    """The claim of a set of chat runs (``bench(..., scenario="chat")``), one entry per run in order."""
    table = delivery(runs).set_index(["run", "recipients"])
    shakes = handshakes(runs).set_index("run")
    variants = []
    for row in runs.summary.itertuples():
        same, other = table.loc[(row.run, "same worker")], table.loc[(row.run, "other worker")]
        variants.append(
            VariantChat(
                label=row.label,
                variant=row.variant,
                workers=int(row.workers),
                users=int(row.users),
                handshakes=int(shakes.loc[row.run, "attempts"]),
                handshakes_failed=int(shakes.loc[row.run, "failed"]),
                same_worker_owed=int(same.expected),
                same_worker_delivered=int(same.delivered),
                other_worker_owed=int(other.expected),
                other_worker_delivered=int(other.delivered),
                same_worker_p99_ms=_number(same.p99_ms),
                other_worker_p50_ms=_number(other.p50_ms),
                other_worker_p99_ms=_number(other.p99_ms),
            )
        )
    return ChatOutcome(variants)


@dataclass
class RedisOutage(Claim):
    """Notebook 11: pubsub's Redis stopped under load. Delivery on the sender's worker goes on; what
    crosses workers meanwhile is lost (pub/sub is at most once) and resumes after Redis is back."""

    down_t: float  # on the run's clock, s
    up_t: float
    same_worker_delivered_during: int
    same_worker_lost_during: int
    other_worker_lost: int  # in the whole run
    other_worker_expected: int
    resumed_t: float | None  # the first second after up_t with a cross-worker delivery; None: never
    failed_handshakes: int

    @property
    def resumed_after_s(self) -> float | None:
        return None if self.resumed_t is None else self.resumed_t - self.up_t

    def fields(self) -> dict[str, Any]:
        return {**super().fields(), "resumed_after_s": self.resumed_after_s}

    def sentence(self) -> str:
        resumed = (
            "cross-worker delivery had not resumed by the end of the run"
            if self.resumed_t is None or self.resumed_after_s is None
            else f"cross-worker delivery resumed at {self.resumed_t:.1f} s, {self.resumed_after_s:.1f} s after "
            f"Redis was back"
        )
        return (
            f"Redis was down from {self.down_t:.1f} s to {self.up_t:.1f} s of the run.\n"
            f"Meanwhile, same-worker deliveries went on: {self.same_worker_delivered_during:,} delivered, "
            f"{self.same_worker_lost_during:,} lost.\n"
            f"Lost across workers, at most once: {self.other_worker_lost:,} of {self.other_worker_expected:,} in the "
            f"run; {resumed}.\n"
            f"The server kept serving: {self.failed_handshakes} handshakes failed."
        )


def outage_summary(runs: Runs) -> RedisOutage:
    """What the first staged outage in ``runs`` did: when Redis was down, what the same worker
    still delivered meanwhile, what was lost across workers, and when cross-worker delivery resumed.
    """
    down = outages(runs).iloc[0]
    totals = delivery(runs).set_index("recipients")
    history = delivery_history(runs)
    cross = history[history["recipients"] == "other worker"]
    during = history[(history["t"] >= down.down_t) & (history["t"] <= down.up_t)]
    same_during = during[during["recipients"] == "same worker"]
    resumed = cross[(cross["t"] > down.up_t) & (cross["delivered"] > 0)]["t"].min()
    return RedisOutage(
        down_t=float(down.down_t),
        up_t=float(down.up_t),
        same_worker_delivered_during=int(same_during["delivered"].sum()),
        same_worker_lost_during=int(same_during["lost"].sum()),
        other_worker_lost=int(totals.loc["other worker", "lost"]),
        other_worker_expected=int(totals.loc["other worker", "expected"]),
        resumed_t=_number(resumed),
        failed_handshakes=int(handshakes(runs)["failed"].sum()),
    )


def _number(value: Any) -> float | None:
    """A float, or None for a missing one (pandas' NaN)."""
    value = float(value)
    return None if math.isnan(value) else value


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _pct(ratio: float | None) -> str:
    return "no messages" if ratio is None else f"{ratio:.1%}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"
