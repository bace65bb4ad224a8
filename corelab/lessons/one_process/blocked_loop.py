"""The blocked event loop, measured: a /health probe's latency while CPU requests are served.

Runs the ``blocked`` scenario (loadtests/blocked_loop.py) once per offload mode and reads the
probe's latency apart from the CPU requests'. With offload=none every burn runs on the event
loop, and the probe waits behind them; offload=process keeps the loop free.

    python -m corelab blocked-loop [--seconds 20] [--variant single]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from corelab.claim import Claim
from corelab.harness.quick import pick
from corelab.harness.results import Runs
from corelab.harness.run import bench

OFFLOAD_MODES = ("none", "thread", "process")
PROBE_NAME = "probe /health"  # the name loadtests/blocked_loop.py reports the probe under


def run_blocked_loop(
    modes: Sequence[str] = OFFLOAD_MODES,
    *,
    variant: str = "single",
    seconds: float | None = None,
    out: str | Path | None = None,
) -> Runs:
    """One run of the blocked scenario per offload mode (QUICK-aware length)."""
    for mode in modes:
        if mode not in OFFLOAD_MODES:
            raise ValueError(f"unknown offload mode {mode!r}: choose from {', '.join(OFFLOAD_MODES)}")
    return bench(
        [variant],
        scenario="blocked",
        seconds=seconds if seconds is not None else pick(20, 8),
        params=[{"offload": mode} for mode in modes],
        out=out,
    )


def probe_table(runs: Runs) -> pd.DataFrame:
    """Per run: the probe's p50/p99 and the CPU requests' throughput and p50, indexed by offload mode."""
    rows = []
    for run in runs.summary.itertuples():
        ends = runs.endpoints[runs.endpoints["run"] == run.run]
        probe = ends[ends["name"] == PROBE_NAME]
        work = ends[ends["name"] != PROBE_NAME]
        mode = runs.params.get(run.run, {}).get("offload", "none")
        rows.append(
            {
                "offload": mode,
                "label": run.label,
                "probe_requests": int(probe["requests"].sum()),
                "probe_p50_ms": float(probe["p50_ms"].iloc[0]) if not probe.empty else float("nan"),
                "probe_p99_ms": float(probe["p99_ms"].iloc[0]) if not probe.empty else float("nan"),
                "work_rps": float(work["rps"].sum()),
                "work_p50_ms": float(work["p50_ms"].iloc[0]) if not work.empty else float("nan"),
                "failures": int(ends["failures"].sum()),
                "server_cpu_pct": float(run.server_cpu_pct),
            }
        )
    return pd.DataFrame(rows).set_index("offload")


@dataclass
class ProbeLatency:
    """The /health probe and the CPU requests in one offload mode's run."""

    probe_p50_ms: float
    probe_p99_ms: float
    work_rps: float  # CPU requests served per second


@dataclass
class BlockedLoop(Claim):
    """Notebook 05: CPU work on the event loop makes a no-work probe wait; a process pool keeps it instant."""

    none: ProbeLatency  # the burns run on the event loop
    thread: ProbeLatency  # in a thread pool: off the loop, still under the one GIL
    process: ProbeLatency  # in a process pool: off the loop and off the GIL

    @property
    def p99_ratio(self) -> float:
        """How many times lower the probe's p99 was with offload=process than with none."""
        return self.none.probe_p99_ms / self.process.probe_p99_ms if self.process.probe_p99_ms else float("nan")

    def fields(self) -> dict[str, Any]:
        flat = {
            f"{mode}_{name}": round(value, 2)
            for mode in OFFLOAD_MODES
            for name, value in vars(getattr(self, mode)).items()
        }
        return {**flat, "p99_ratio": round(self.p99_ratio, 2)}

    def sentence(self) -> str:
        none, thread, process = self.none, self.thread, self.process
        return (
            f"offload=none: the probe's p99 was {none.probe_p99_ms:.0f} ms (median {none.probe_p50_ms:.0f} ms): "
            f"it waited behind the 50 ms burns running on the event loop.\n"
            f"offload=thread: p99 {thread.probe_p99_ms:.0f} ms (median {thread.probe_p50_ms:.0f} ms): the burn left "
            f"the loop, but pure Python holds the GIL, so the loop thread waited for the interpreter.\n"
            f"offload=process: p99 {process.probe_p99_ms:.0f} ms (median {process.probe_p50_ms:.0f} ms), "
            f"{self.p99_ratio:.0f}x lower than offload=none: the loop stayed free.\n"
            f"CPU requests served: none {none.work_rps:.0f}/s, thread {thread.work_rps:.0f}/s, "
            f"process {process.work_rps:.0f}/s (the pool's processes run on every core; the loop and the thread "
            f"pool share one GIL)."
        )


def blocked_loop_claim(runs: Runs) -> BlockedLoop:
    """Notebook 05's claim from one run per offload mode (``run_blocked_loop``, or bench's blocked scenario)."""
    table = probe_table(runs)
    missing = [mode for mode in OFFLOAD_MODES if mode not in table.index]
    if missing:
        raise ValueError(f"no run with offload={', '.join(missing)} among these runs ({', '.join(table['label'])})")
    if table["probe_requests"].eq(0).any():
        raise ValueError(f"a run has no {PROBE_NAME!r} requests: were these runs of the blocked scenario?")

    def mode(name: str) -> ProbeLatency:
        row = table.loc[name]
        return ProbeLatency(float(row["probe_p50_ms"]), float(row["probe_p99_ms"]), float(row["work_rps"]))

    return BlockedLoop(*(mode(name) for name in OFFLOAD_MODES))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab blocked-loop``'s options."""
    parser.add_argument("--seconds", type=float, default=20, help="length of each run (1..300)")
    parser.add_argument("--variant", default="single")
    parser.add_argument("--out", type=Path, help="folder for the runs (default results/<timestamp>)")


def run_command(args: argparse.Namespace) -> int:
    """Probe latency per offload mode, printed with the ratio the README reports."""
    if not 1 <= args.seconds <= 300:
        raise ValueError("--seconds must be in 1..300")
    runs = run_blocked_loop(variant=args.variant, seconds=args.seconds, out=args.out)
    print(probe_table(runs).drop(columns="label").round(1).to_string())
    print(blocked_loop_claim(runs).sentence())
    return 0
