"""The blocked event loop, measured: a /health probe's latency while CPU requests are served.

Runs the ``blocked`` scenario (loadtests/blocked_loop.py) once per offload mode and reads the
probe's latency apart from the CPU requests'. With offload=none every burn runs on the event
loop, and the probe waits behind them; offload=process keeps the loop free.

    python -m corelab blocked-loop [--seconds 20] [--variant single]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from corelab.quick import pick
from corelab.results import Runs
from corelab.run import bench

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
        mode = dict(p.split("=", 1) for p in str(run.params).split() if "=" in p).get("offload", "none")
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``python -m corelab blocked-loop``'s options."""
    parser.add_argument("--seconds", type=float, default=20, help="length of each run (1..300)")
    parser.add_argument("--variant", default="single")
    parser.add_argument("--out", type=Path, help="folder for the runs (default results/<timestamp>)")


def run_command(args: argparse.Namespace) -> int:
    """Probe latency per offload mode, printed with the ratio the README reports."""
    if not 1 <= args.seconds <= 300:
        raise ValueError("--seconds must be in 1..300")
    table = probe_table(run_blocked_loop(variant=args.variant, seconds=args.seconds, out=args.out))
    print(table.drop(columns="label").round(1).to_string())
    if {"none", "process"} <= set(table.index):
        ratio = table.loc["none", "probe_p99_ms"] / table.loc["process", "probe_p99_ms"]
        print(f"probe p99: offload=none {table.loc['none', 'probe_p99_ms']:.0f} ms, "
              f"offload=process {table.loc['process', 'probe_p99_ms']:.0f} ms: {ratio:.0f}x lower")  # fmt: skip
    return 0
