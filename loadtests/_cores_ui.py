"""A live view of the cores on Locust's own web UI: a page at /cores and a Cores tab.

Imported by _worker_counts (so by every scenario). When Locust runs with its web UI, on the
master or a local runner, a greenlet samples ``psutil.cpu_percent(percpu=True)`` every
SAMPLE_PERIOD_S and the responses per server worker pid (the X-Worker-Pid counts that
_worker_counts keeps). Then:

- ``/cores`` draws them live: one bar per core, a time x core heatmap of the last minute, and
  one bar per server worker pid with its share of the responses (static/cores.html).
- ``/cores/data?since=<seq>`` is the JSON the page polls: the samples after ``seq``, and the
  per-worker counts.
- the main UI gets a "Cores" tab: a table, a row per core and per worker, refreshed each time
  Locust's UI polls /stats/requests (every 2 s).

Nothing runs with --headless (no web UI) or on Locust worker processes; those send their
per-pid counts to the master with their regular reports instead. CORELAB_CORES_UI=0 turns it
all off (the A/B of its cost uses that). Gevent, not threads: Locust's loop is gevent's.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import _worker_counts  # the module that imports this one: read its counters at run time, never at import
import gevent
import psutil
from flask import Blueprint, Response, request, send_from_directory
from locust import events
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from plumbing import env
from plumbing.cores import readings_of, usable_cores

# 2 Hz: a bar that moves twice a second reads as live, and the page promises at least once a second.
SAMPLE_PERIOD_S = 0.5
HISTORY = 120  # samples kept: the last minute at 2 Hz, what the heatmap draws
RATE_WINDOW = 4  # samples (2 s) over which a worker's req/s and recent share are taken
STATIC = Path(__file__).resolve().parent / "static"
REPORT_KEY = "corelab_served_by"  # a Locust worker's per-pid counts in its report to the master
ENABLED = os.environ.get(env.CORES_UI, "1") != "0"


@dataclass
class Sample:
    seq: int
    t: float  # unix time of the sample: the page measures its update interval from these
    cores: list[float]  # % busy per core since the previous sample
    locust_cpu: float  # this Locust process, % of one core since the previous sample
    served: dict[str, int]  # responses per server worker pid since the previous sample
    # % of each core the server's workers used since the previous sample, by the core each last ran
    # on: what of a core's busy time was the server's (the rest: Locust, a browser, the kernel).
    server_cores: list[float] = field(default_factory=list)


class CoresSampler:
    """Samples the cores and the per-worker counts; keeps the last HISTORY samples."""

    def __init__(self, served_by: Counter[str]) -> None:
        self.served_by = served_by  # cumulative responses per pid, kept by whoever counts them
        self.samples: deque[Sample] = deque(maxlen=HISTORY)
        self.seq = 0
        self.process = psutil.Process()
        # The cores this Locust may use (plumbing.cores): under taskset -c 0-3, four of them.
        self.core_ids = usable_cores()
        psutil.cpu_percent(percpu=True)  # the first call only sets the baseline
        self.last_cpu = self._process_cpu_s()
        self.last_t = time.time()
        self.last_served: Counter[str] = Counter(served_by)
        self._servers: dict[int, psutil.Process] = {}  # the workers named by X-Worker-Pid, on this machine

    def _process_cpu_s(self) -> float:
        times = self.process.cpu_times()
        return times.user + times.system

    def sample(self) -> Sample:
        now = time.time()
        cores = readings_of(psutil.cpu_percent(percpu=True), self.core_ids)
        cpu_s = self._process_cpu_s()
        served = Counter(self.served_by)
        self.seq += 1
        elapsed = max(now - self.last_t, 1e-6)
        sample = Sample(
            seq=self.seq,
            t=round(now, 3),
            cores=cores,
            locust_cpu=round(100 * (cpu_s - self.last_cpu) / elapsed, 1),
            served={pid: n for pid, n in (served - self.last_served).items() if n},
            server_cores=self._server_on_cores(served),
        )
        self.last_t, self.last_cpu, self.last_served = now, cpu_s, served
        self.samples.append(sample)
        return sample

    def _server_on_cores(self, served: Counter[str]) -> list[float]:
        """Each usable core's share used by the server's workers since the last sample (psutil's per-process
        CPU and ``cpu_num``; a worker on another machine, or gone, counts for nothing)."""
        on = dict.fromkeys(self.core_ids, 0.0)
        for key in served:
            pid = int(key) if key.isdigit() else -1
            proc = self._servers.get(pid)
            try:
                if proc is None:
                    proc = self._servers[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)  # a first reading only sets the baseline
                    continue
                with proc.oneshot():
                    used = proc.cpu_percent(None)
                    core = proc.cpu_num() if hasattr(proc, "cpu_num") else -1
            except psutil.Error:
                self._servers.pop(pid, None)
                continue
            if core in on:
                on[core] += used
        return [round(min(100.0, on[core]), 1) for core in self.core_ids]

    def run(self) -> None:
        while True:
            gevent.sleep(SAMPLE_PERIOD_S)
            self.sample()

    def workers(self) -> list[dict[str, Any]]:
        """Per server worker pid: all its responses, its share of them, and its recent req/s and share."""
        recent = list(self.samples)[-RATE_WINDOW:]
        recent_served: Counter[str] = Counter()
        for sample in recent:
            recent_served.update(sample.served)
        window_s = recent[-1].t - recent[0].t + SAMPLE_PERIOD_S if recent else 0.0
        total = sum(self.last_served.values())
        recent_total = sum(recent_served.values())
        return [
            {
                "pid": pid,
                "responses": n,
                "share": round(n / total, 4) if total else 0.0,
                "recent_share": round(recent_served[pid] / recent_total, 4) if recent_total else 0.0,
                "rps": round(recent_served[pid] / window_s, 1) if window_s else 0.0,
            }
            for pid, n in sorted(self.last_served.items(), key=lambda item: int(item[0]) if item[0].isdigit() else 0)
        ]

    def data(self, since: int) -> dict[str, Any]:
        return {
            "period_s": SAMPLE_PERIOD_S,
            "seq": self.seq,  # the newest sample's number: a page that polls with a larger one restarts
            "cores": len(self.core_ids),
            "core_ids": self.core_ids,  # what each sample's ``cores`` list is, in order
            "samples": [asdict(s) for s in self.samples if s.seq > since],
            "workers": self.workers(),
            "responses": sum(self.last_served.values()),
        }


def _cores_tab_rows(sampler: CoresSampler) -> list[dict[str, str]]:
    """The Cores tab's table: a row per core, then per server worker, in that order.

    Keys are one word (the UI camel-cases keys) and none is "name" (the UI sorts a table by "name").
    """
    if not sampler.samples:
        return []
    last = sampler.samples[-1]
    rows = [
        {"what": f"core {i}", "figure": f"{busy:.0f}% busy", "detail": f"over the last {SAMPLE_PERIOD_S:g} s"}
        for i, busy in zip(sampler.core_ids, last.cores, strict=True)
    ]
    rows += [
        {
            "what": f"server worker pid {w['pid']}",
            "figure": f"{100 * w['share']:.0f}% of responses",
            "detail": f"{w['responses']:,} responses, {w['rps']:.0f} req/s now",
        }
        for w in sampler.workers()
    ]
    rows.append({"what": "Locust (this process)", "figure": f"{last.locust_cpu:.0f}% of a core", "detail": ""})
    rows.append({"what": "live chart", "figure": "/cores", "detail": "open it for bars and a heatmap"})
    return rows


def _install(environment: Environment, served_by: Counter[str]) -> None:
    web_ui = environment.web_ui
    assert web_ui is not None
    sampler = CoresSampler(served_by)
    greenlet = gevent.spawn(sampler.run)
    events.quitting.add_listener(lambda **_kw: greenlet.kill(block=False))

    base = (getattr(environment.parsed_options, "web_base_path", None) or "").rstrip("/")
    pages = Blueprint("corelab_cores", __name__, url_prefix=base or None)

    @pages.route("/cores")
    @web_ui.auth_required_if_enabled
    def cores_page() -> Response:
        return send_from_directory(STATIC, "cores.html")

    @pages.route("/cores/static/<path:name>")
    @web_ui.auth_required_if_enabled
    def cores_static(name: str) -> Response:
        return send_from_directory(STATIC, name)

    @pages.route("/cores/data")
    @web_ui.auth_required_if_enabled
    def cores_data() -> Response:
        since = request.args.get("since", "0")
        if not since.isdigit():
            problem = {"error": f"since must be a sample number (0 or more), not {since!r}"}
            return Response(json.dumps(problem), 400, mimetype="application/json")
        runner = environment.runner
        data = {
            **sampler.data(int(since)),
            "host": environment.host or "",
            "state": runner.state if runner else "",
            "users": runner.user_count if runner else 0,
        }
        # Compact (Flask pretty-prints in the debug mode Locust turns on): the page polls it 4 times a second.
        return Response(json.dumps(data, separators=(",", ":")), mimetype="application/json")

    web_ui.app.register_blueprint(pages)

    # The Cores tab: Locust's main UI draws an extended tab as a table whose rows come with
    # every /stats/requests reply (its own 2 s poll), under "extended_stats".
    web_ui.template_args["extended_tabs"] = [
        *web_ui.template_args.get("extended_tabs", []),
        {"title": "Cores", "key": "cores"},
    ]
    web_ui.template_args["extended_tables"] = [
        *web_ui.template_args.get("extended_tables", []),
        {
            "key": "cores",
            "structure": [
                {"key": "what", "title": "Core / worker"},
                {"key": "figure", "title": "Now"},
                {"key": "detail", "title": "Detail"},
            ],
        },
    ]

    @web_ui.app.after_request
    def add_cores_rows(response: Response) -> Response:
        if not request.path.endswith("/stats/requests") or not response.is_json:
            return response
        body = response.get_json()
        body["extended_stats"] = [*body.get("extended_stats", []), {"key": "cores", "data": _cores_tab_rows(sampler)}]
        response.set_data(json.dumps(body))
        return response


def _forward_counts_to_master() -> None:
    """On a Locust worker: add the per-pid counts since the last report to each report to the master."""
    reported: Counter[str] = Counter()

    @events.report_to_master.add_listener
    def _add_counts(data: dict[str, Any], **_kw: Any) -> None:
        now = Counter(_worker_counts.served_by)
        data[REPORT_KEY] = dict(now - reported)
        reported.clear()
        reported.update(now)


@events.init.add_listener
def _on_init(environment: Environment, **_kw: Any) -> None:
    if not ENABLED:
        return
    if isinstance(environment.runner, WorkerRunner):
        _forward_counts_to_master()
        return
    if environment.web_ui is None:  # --headless: nobody to show it to
        return
    if isinstance(environment.runner, MasterRunner):
        # The master sends no requests itself: its counts are the sum of its workers' reports.
        from_workers: Counter[str] = Counter()

        @events.worker_report.add_listener
        def _add_reported(data: dict[str, Any], **_kw: Any) -> None:
            from_workers.update(data.get(REPORT_KEY, {}))

        _install(environment, from_workers)
    else:
        _install(environment, _worker_counts.served_by)
