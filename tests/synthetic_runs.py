"""Runs made up from numbers, in the harness's own tables: what a 64-core machine would store, for
figures and views to be tested on a 2-core one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from corelab.harness.results import SUMMARY_COLUMNS, Runs


def synthetic_runs(
    n_cores: int = 64, workers: int = 64, idle: int = 0, seconds: int = 15, hop: bool = False, seed: int = 1
) -> Runs:
    """Two runs, one process and a cluster of ``workers`` (``idle`` of them serving nothing), sampled
    on ``n_cores`` cores; ``hop``: the busy cores change every sample, as a scheduler moves processes."""
    rng = np.random.default_rng(seed)
    t = np.round(np.arange(0.1, seconds, 0.1), 2)
    rows, procs, summ, wk, hist = [], [], [], [], []
    for run, (label, variant, w) in enumerate(
        [("single", "single", 1), (f"cluster x{workers} (rr)", "cluster", workers)]
    ):
        rid = f"{run + 1:02d}-{variant}"
        n_busy = 1 if w == 1 else (w - idle)
        for ti in t:
            on = set(rng.choice(n_cores, n_busy, replace=False)) if hop else set(range(n_busy))
            for c in range(n_cores):
                u = 95 + rng.normal(0, 3) if c in on else max(0.0, rng.normal(3, 2))
                rows.append((rid, label, ti, c, min(100.0, u)))
            # One row per server process, on the core it ran on (a single process: one row, pid 1000).
            for k, core in enumerate(sorted(on)):
                pid, role = (1000, "root") if w == 1 else (3000 + k, "child")
                procs.append((rid, label, ti, "server", pid, role, 95.0, 50_000_000, int(core)))
            procs.append((rid, label, ti, "generator", 2000, "root", 30.0, 80_000_000, int(rng.integers(n_cores))))
        rps = 97.0 * n_busy
        s = dict.fromkeys(SUMMARY_COLUMNS)
        s.update(
            run=rid,
            label=label,
            variant=variant,
            workers=w,
            policy="rr" if w > 1 else "-",
            scenario="cpu",
            params="",
            users=4 * workers,
            seconds=seconds,
            requests=int(rps * seconds),
            failures=0,
            rps=rps,
            p50_ms=40.0,
            p99_ms=90.0,
            server_cpu_pct=100.0 * n_busy,
            generator_cpu_pct=30.0,
            generators=3,
            generator_max_cpu_pct=40.0,
            generator_bound=False,
            worker_max_min=1.1,
            sampler_overhead_pct=1.0,
            limit_rps=97.7 * min(w, n_cores) if w > 1 else 97.7,
            users_bound=False,
            idle_workers=(w - n_busy),
        )
        summ.append(s)
        for k in range(n_busy):
            wk.append((rid, label, 5000 + k, 100 + k % 3, 0.0))
        for ti in range(1, seconds):
            hist.append((rid, label, float(ti), 4 * workers, rps, 0.0, 40.0, 90.0))
    workers_df = pd.DataFrame(wk, columns=["run", "label", "pid", "responses", "share"])
    workers_df["share"] = workers_df["responses"] / workers_df.groupby("run")["responses"].transform("sum")
    return Runs(
        Path("/tmp"),
        pd.DataFrame(summ, columns=SUMMARY_COLUMNS),
        pd.DataFrame(rows, columns=["run", "label", "t", "core", "util_pct"]),
        pd.DataFrame(procs, columns=["run", "label", "t", "group", "pid", "role", "cpu_pct", "rss_bytes", "core"]),
        pd.DataFrame(hist, columns=["run", "label", "t", "users", "rps", "failures_per_s", "p50_ms", "p99_ms"]),
        workers_df,
        pd.DataFrame(columns=["run", "label", "name", "requests", "failures", "rps", "p50_ms", "p99_ms"]),
        pd.DataFrame(columns=["run", "label", "t", "name", "rps", "p50_ms", "p99_ms"]),
    )
