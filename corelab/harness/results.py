"""Where runs are stored, and how they are read back as long pandas tables.

A run is a folder: Locust's CSVs (locust_stats.csv, locust_stats_history.csv), the sampler's
tables (cores.csv, procs.csv), responses per worker (workers.json), the server's and Locust's
logs, and meta.json (what was run, where, on what, and the ``events`` a callback made happen
during the load: corelab.harness.during). The parent folder holds summary.csv, one
row per run. ``load_runs`` turns a folder of runs into one set of long tables.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from corelab.text_table import Column, text_table
from plumbing.cores import usable_core_count
from plumbing.procs import PROJECT_ROOT

# A load generator that used more than this share of one core may have been the limit.
GENERATOR_BOUND_PCT = 80.0

SUMMARY_COLUMNS = [
    "run", "label", "variant", "workers", "policy", "scenario", "params", "users", "seconds",
    "requests", "failures", "rps", "p50_ms", "p99_ms",
    "server_cpu_pct", "generator_cpu_pct", "generators", "generator_max_cpu_pct", "generator_bound",
    "worker_max_min", "sampler_overhead_pct", "limit_rps", "users_bound", "idle_workers",
]  # fmt: skip


EVENT_COLUMNS = ["run", "label", "t", "what"]
TIMELINE_COLUMNS = ["run", "label", "t", "pid", "responses"]


@dataclass
class Runs:
    """Runs as long tables; every table carries ``run`` and ``label`` to group and plot by."""

    root: Path
    summary: pd.DataFrame
    cores: pd.DataFrame  # run, label, t, core, util_pct
    procs: pd.DataFrame  # run, label, t, group, pid, role, cpu_pct, rss_bytes, core
    history: pd.DataFrame  # run, label, t, users, rps, failures_per_s, p50_ms, p99_ms
    workers: pd.DataFrame  # run, label, pid, responses, share
    endpoints: pd.DataFrame  # run, label, name, requests, failures, rps, p50_ms, p99_ms
    endpoint_history: pd.DataFrame  # run, label, t, name, rps, p50_ms, p99_ms
    # What happened during the load (a restart, a SIGKILL, Redis stopped): run, label, t, what
    events: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=EVENT_COLUMNS))
    # Responses per worker pid per second: run, label, t, pid, responses
    worker_timeline: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TIMELINE_COLUMNS))
    # Each run's settings (bench's ``params``, e.g. {"offload": "process"}) by run, as meta.json keeps them:
    # the summary's ``params`` column is the same, written as text for people.
    params: dict[str, dict[str, str]] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Runs({self.root}, {len(self.summary)} runs)\n{self.summary_table()}"

    def summary_table(self) -> str:
        return format_summary(self.summary)

    def _repr_html_(self) -> str:
        return self.summary.to_html(index=False, float_format=lambda x: f"{x:.1f}")


def machine_info() -> dict[str, Any]:
    cpu_model = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu_model)
    except OSError:
        pass
    return {
        "cores": psutil.cpu_count(logical=True),
        "usable_cores": usable_core_count(),
        "cpu_model": cpu_model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": git_commit(),
    }


def git_commit() -> str:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT, capture_output=True, text=True
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def new_results_dir(what: str = "") -> Path:
    """A fresh folder under results/, named for the time (and ``what``, when given)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return PROJECT_ROOT / "results" / (f"{what}-{stamp}" if what else stamp)


def stored_summaries(root: Path) -> list[dict[str, Any]]:
    """The summary rows of the runs already in ``root``, in the order they ran."""
    return [json.loads(p.read_text())["summary"] for p in sorted(root.glob("*/meta.json"))]


def write_summary(root: Path) -> None:
    """summary.csv: one row per run in ``root``, rewritten from the runs' own metadata."""
    pd.DataFrame(stored_summaries(root), columns=SUMMARY_COLUMNS).to_csv(root / "summary.csv", index=False)


def per_second(aggregated: pd.DataFrame, t0: float) -> pd.DataFrame:
    """Requests and failures served in each second, from Locust's aggregated history rows.

    Locust's own Requests/s column is a smoothed average; differences of its running totals
    give what was served in each second. ``t`` is seconds since ``t0`` (a Unix time).
    """
    dt = aggregated["Timestamp"].diff()
    return pd.DataFrame(
        {
            "t": aggregated["Timestamp"] - t0,
            "rps": (aggregated["Total Request Count"].diff() / dt).fillna(0.0),
            "failures_per_s": (aggregated["Total Failure Count"].diff() / dt).fillna(0.0),
        }
    )


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def load_run(run_dir: Path) -> dict[str, Any]:
    """One run folder as its metadata, summary row and tables."""
    meta = json.loads((run_dir / "meta.json").read_text())
    tag = {"run": meta["run"], "label": meta["label"]}

    def tagged(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(**tag)[[*tag, *df.columns]]

    cores = pd.read_csv(run_dir / "cores.csv")
    procs = pd.read_csv(run_dir / "procs.csv")
    raw = pd.read_csv(run_dir / "locust_stats_history.csv")
    agg = raw[raw["Name"] == "Aggregated"]
    history = per_second(agg, meta["sampler_started_at"]).assign(
        users=agg["User Count"],
        p50_ms=pd.to_numeric(agg["50%"], errors="coerce"),
        p99_ms=pd.to_numeric(agg["99%"], errors="coerce"),
    )[["t", "users", "rps", "failures_per_s", "p50_ms", "p99_ms"]]
    per_name = raw[raw["Name"] != "Aggregated"]
    endpoint_history = pd.DataFrame(
        {
            "t": per_name["Timestamp"] - meta["sampler_started_at"],
            "name": per_name["Name"],
            "rps": per_name["Requests/s"],
            # Locust's "current" percentiles: over the last few seconds, not the whole run.
            "p50_ms": pd.to_numeric(per_name["50%"], errors="coerce"),
            "p99_ms": pd.to_numeric(per_name["99%"], errors="coerce"),
        }
    )
    stats = pd.read_csv(run_dir / "locust_stats.csv")
    stats = stats[stats["Name"] != "Aggregated"]
    endpoints = pd.DataFrame(
        {
            "name": stats["Name"],
            "requests": stats["Request Count"],
            "failures": stats["Failure Count"],
            "rps": stats["Requests/s"],
            "p50_ms": stats["50%"],
            "p99_ms": stats["99%"],
        }
    )
    counts = json.loads((run_dir / "workers.json").read_text()) if (run_dir / "workers.json").exists() else {}
    total = sum(counts.values()) or 1
    workers = pd.DataFrame(
        [{"pid": int(pid), "responses": n, "share": n / total} for pid, n in sorted(counts.items())],
        columns=["pid", "responses", "share"],
    )
    events = pd.DataFrame(meta.get("events", []), columns=["t", "what"])
    timeline_path = run_dir / "worker_timeline.csv"
    timeline = pd.read_csv(timeline_path) if timeline_path.exists() else pd.DataFrame(columns=["t", "pid", "responses"])
    timeline = timeline.assign(t=timeline["t"] - meta["sampler_started_at"])[["t", "pid", "responses"]]
    return {
        "meta": meta,
        "summary": meta["summary"],
        "events": tagged(events),
        "worker_timeline": tagged(timeline),
        "cores": tagged(cores),
        "procs": tagged(procs),
        "history": tagged(history),
        "workers": tagged(workers),
        "endpoints": tagged(endpoints),
        "endpoint_history": tagged(endpoint_history),
    }


def load_runs(root: str | Path) -> Runs:
    """Every run under ``root`` (folders holding a meta.json), in the order they ran."""
    root = Path(root)
    run_dirs = sorted(p.parent for p in root.glob("*/meta.json"))
    if not run_dirs:
        raise FileNotFoundError(f"no runs under {root} (looked for */meta.json)")
    loaded = [load_run(d) for d in run_dirs]

    def concat(key: str) -> pd.DataFrame:
        return pd.concat([r[key] for r in loaded], ignore_index=True)

    summary = pd.DataFrame([r["summary"] for r in loaded], columns=SUMMARY_COLUMNS)
    return Runs(
        root,
        summary,
        concat("cores"),
        concat("procs"),
        concat("history"),
        concat("workers"),
        concat("endpoints"),
        concat("endpoint_history"),
        concat("events"),
        concat("worker_timeline"),
        {r["meta"]["run"]: dict(r["meta"].get("params") or {}) for r in loaded},
    )


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a plain-text table, with the speed-up against the first run."""
    if summary.empty:
        return "(no runs)"
    base = summary["rps"].iloc[0] or float("nan")
    columns = [
        Column("run", 28, left=True),
        Column("rps", 8, ".1f"),
        Column("x", 6, ".2f"),
        Column("p50 ms", 7, ".0f"),
        Column("p99 ms", 7, ".0f"),
        Column("fail", 5, "d"),
        Column("server CPU", 10, ".0f", "%"),
        Column("Locust CPU", 10, ".0f", "%"),
    ]
    rows = [
        (r.label, r.rps, r.rps / base, r.p50_ms, r.p99_ms, r.failures, r.server_cpu_pct, r.generator_cpu_pct)
        for r in summary.itertuples()
    ]
    return text_table(columns, rows, [run_notes(r) for r in summary.itertuples()])


def run_notes(row: Any) -> str:
    """What a summary row says about its own honesty: generator-bound, users-bound, idle workers."""
    notes = []
    if row.generator_bound:
        notes.append("generator-bound!")
    if given(getattr(row, "users_bound", None)) and bool(row.users_bound):
        notes.append("users-bound!")
    idle = getattr(row, "idle_workers", None)
    if given(idle) and int(idle) > 0:
        notes.append(f"{int(idle)} idle worker{'s' if int(idle) > 1 else ''}!")
    return " ".join(notes)


def given(value: Any) -> bool:
    """Not missing: runs stored before a column existed read it back as NaN."""
    return value is not None and not pd.isna(value)
