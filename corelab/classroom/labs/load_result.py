"""What corelab/classroom/labs/load.py measured, read back for a check: rows per request, rates, percentiles."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    """What load.py measured: one row per request, and its own CPU."""

    seconds: float
    cpu_s: float
    rows: list[dict] = field(default_factory=list)

    def of(self, kind: str = "load", after: float = 0.0, before: float = math.inf) -> list[dict]:
        return [r for r in self.rows if r["kind"] == kind and after <= r["start_s"] < before]

    def failures(self, kind: str = "load") -> list[dict]:
        return [r for r in self.of(kind) if r["error"]]

    def rps(self, after: float, before: float) -> float:
        """Successful load requests per second among those started in [after, before)."""
        ok = [r for r in self.of("load", after, before) if not r["error"]]
        return len(ok) / (before - after)

    def percentile_ms(self, q: float, kind: str, after: float = 0.0) -> float:
        latencies = sorted(r["latency_s"] for r in self.of(kind, after) if not r["error"])
        if not latencies:
            return math.nan
        return 1000 * latencies[max(0, math.ceil(q / 100 * len(latencies)) - 1)]

    @property
    def generator_cpu_pct(self) -> float:
        return 100 * self.cpu_s / self.seconds if self.seconds else 0.0

    def describe_failures(self, kind: str = "load") -> str:
        counts = Counter(r["error"] for r in self.failures(kind))
        return ", ".join(f"{n} {error}" for error, n in counts.most_common(3))
