"""The blocked event loop, measured: a /health probe's latency while CPU requests are served.

Runs the ``blocked`` scenario (loadtests/blocked_loop.py) once per offload mode and reads the
probe's latency apart from the CPU requests'. With offload=none every burn runs on the event
loop, and the probe waits behind them; offload=process keeps the loop free. offload=thread
depends on the interpreter the server runs on: with the GIL the burning thread and the loop take
turns, on a free-threaded build with the GIL off they run side by side. The claim reads which
(``pools.gil_enabled_in_child``: the server imports aiohttp, whose C extensions may turn the GIL
back on) and says what this run's thread mode showed.

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
from corelab.lessons.one_process import pools

OFFLOAD_MODES = ("none", "thread", "process")
PROBE_NAME = "probe /health"  # the name loadtests/blocked_loop.py reports the probe under
SERVER_IMPORTS = ("servers.app",)  # what a server of the blocked scenario imports: its GIL is what counts


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
    """Notebook 05: CPU work on the event loop makes a no-work probe wait; a process pool keeps it instant;
    a thread pool does not where the server has the GIL (``gil_enabled``), and may where it has none."""

    none: ProbeLatency  # the burns run on the event loop
    thread: ProbeLatency  # in a thread pool: off the loop; with the GIL, still taking turns with it
    process: ProbeLatency  # in a process pool: off the loop and on other cores, on every build
    gil_enabled: bool = True  # the GIL was on in the server (read from its interpreter and imports)
    interpreter: str = ""  # e.g. CPython 3.11.7, CPython 3.14.0t (t: a free-threaded build)

    @property
    def p99_ratio(self) -> float:
        """How many times lower the probe's p99 was with offload=process than with none."""
        return self.none.probe_p99_ms / self.process.probe_p99_ms if self.process.probe_p99_ms else float("nan")

    @property
    def thread_p99_ratio(self) -> float:
        """How many times lower the probe's p99 was with offload=thread than with none."""
        return self.none.probe_p99_ms / self.thread.probe_p99_ms if self.thread.probe_p99_ms else float("nan")

    def fields(self) -> dict[str, Any]:
        flat = {
            f"{mode}_{name}": round(value, 2)
            for mode in OFFLOAD_MODES
            for name, value in vars(getattr(self, mode)).items()
        }
        return {
            **flat,
            "p99_ratio": round(self.p99_ratio, 2),
            "thread_p99_ratio": round(self.thread_p99_ratio, 2),
            "gil_enabled": self.gil_enabled,
            "interpreter": self.interpreter,
        }

    def sentence(self) -> str:
        none, thread, process = self.none, self.thread, self.process
        who = self.interpreter or "the server's interpreter"
        if self.gil_enabled:
            why_thread = f"the burn left the loop, but {who} has the GIL on, so the loop thread took turns with it"
            share = "the loop and the thread pool share one GIL"
        else:
            why_thread = (
                f"the burn left the loop, and {who} runs without the GIL, so the thread burned beside the loop, "
                f"{self.thread_p99_ratio:.0f}x lower than offload=none"
            )
            share = "without a GIL the thread pool's threads run on several cores too"
        return (
            f"offload=none: the probe's p99 was {none.probe_p99_ms:.0f} ms (median {none.probe_p50_ms:.0f} ms): "
            f"it waited behind the 50 ms burns running on the event loop.\n"
            f"offload=thread: p99 {thread.probe_p99_ms:.0f} ms (median {thread.probe_p50_ms:.0f} ms): {why_thread}.\n"
            f"offload=process: p99 {process.probe_p99_ms:.0f} ms (median {process.probe_p50_ms:.0f} ms), "
            f"{self.p99_ratio:.0f}x lower than offload=none: the loop stayed free.\n"
            f"CPU requests served: none {none.work_rps:.0f}/s, thread {thread.work_rps:.0f}/s, "
            f"process {process.work_rps:.0f}/s (the pool's processes run on every core; {share})."
        )


def blocked_loop_claim(runs: Runs) -> BlockedLoop:
    """Notebook 05's claim from one run per offload mode (``run_blocked_loop``, or bench's blocked scenario).

    The servers ran on this interpreter (the harness starts them with it); whether they had the GIL
    is read from it with what they import.
    """
    table = probe_table(runs)
    missing = [mode for mode in OFFLOAD_MODES if mode not in table.index]
    if missing:
        raise ValueError(f"no run with offload={', '.join(missing)} among these runs ({', '.join(table['label'])})")
    if table["probe_requests"].eq(0).any():
        raise ValueError(f"a run has no {PROBE_NAME!r} requests: were these runs of the blocked scenario?")

    def mode(name: str) -> ProbeLatency:
        row = table.loc[name]
        return ProbeLatency(float(row["probe_p50_ms"]), float(row["probe_p99_ms"]), float(row["work_rps"]))

    return BlockedLoop(
        *(mode(name) for name in OFFLOAD_MODES),
        gil_enabled=pools.gil_enabled_in_child(SERVER_IMPORTS),
        interpreter=pools.interpreter_name(),
    )


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
