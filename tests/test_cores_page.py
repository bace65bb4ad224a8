"""Locust's web UI with corelab's live view of the cores (loadtests/_cores_ui.py): /cores, its JSON, the Cores tab.

A real cluster of 2 workers, a real Locust process with its web UI on a free loopback port
(``--autostart``, bounded users and run time), and for the page a real headless Chromium.
"""

from __future__ import annotations

import json
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
import pytest

from plumbing.cores import usable_cores
from plumbing.procs import ManagedProcess, free_port, wait_until_serving
from tests.browser import DevTools, chromium
from tests.http import get
from tests.polling import wait_for

pytestmark = pytest.mark.timeout(120)

LOCUST = shutil.which("locust", path=str(Path(sys.executable).parent)) or "locust"


@dataclass
class LocustUI:
    url: str
    process: ManagedProcess

    def data(self, since: int = 0) -> dict[str, Any]:
        reply = get(f"{self.url}/cores/data?since={since}")
        assert reply.status == 200, reply.body
        return reply.json()


@pytest.fixture
def locust_ui(tmp_path: Path) -> Iterator[Callable[..., LocustUI]]:
    """Start ``locust <args>`` with its web UI on a free loopback port; stopped after the test."""
    started: list[ManagedProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, ready_path: str = "/") -> LocustUI:
        port = free_port()
        argv = [LOCUST, *args, "--web-host", "127.0.0.1", "--web-port", str(port)]
        process = ManagedProcess(argv, log_path=tmp_path / f"locust-{port}.log", env=env)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url + ready_path, process, timeout=30)
        return LocustUI(url, process)

    yield start
    for process in started:
        process.stop()


def _loaded(locust_ui: Callable[..., LocustUI], server_url: str, seconds: int, *extra: str) -> LocustUI:
    """Locust's UI with 8 users on loadtests/cpu.py against ``server_url`` for ``seconds``, once responses flow."""
    ui = locust_ui(
        "-f", "loadtests/cpu.py", "--host", server_url, "--autostart", "--autoquit", "1",
        "-u", "8", "-r", "8", "-t", f"{seconds}s", *extra, ready_path="/cores/data",
    )  # fmt: skip
    wait_for(lambda: ui.data()["responses"] > 0, 20, "responses counted on /cores/data")
    return ui


def _worker_pids(server_pid: int) -> set[str]:
    return {str(child.pid) for child in psutil.Process(server_pid).children()}


@pytest.mark.parametrize("processes", [None, "2"], ids=["local-runner", "master-and-2-locust-workers"])
def test_cores_data_counts_each_core_and_each_server_worker(serve, locust_ui, processes: str | None) -> None:
    server = serve("cluster", "--workers", "2")
    ui = _loaded(locust_ui, server.url, 15, *(["--processes", processes] if processes else []))
    time.sleep(3)  # a few seconds of samples under load (and of Locust workers' 3 s reports)
    data = ui.data()

    cores = len(usable_cores())
    assert data["cores"] == cores and data["core_ids"] == usable_cores()
    samples = data["samples"]
    assert len(samples) >= 4
    assert all(len(s["cores"]) == cores and all(0 <= busy <= 100 for busy in s["cores"]) for s in samples)
    assert max(max(s["cores"]) for s in samples) > 50, "8 users on 10 ms requests should keep a core busy"
    # The server's part of each core, from its workers' own CPU: under this load, most of a core.
    assert all(len(s["server_cores"]) == cores for s in samples)
    assert max(max(s["server_cores"]) for s in samples[1:]) > 40, [s["server_cores"] for s in samples]
    times = [s["t"] for s in samples]
    assert all(b > a for a, b in pairwise(times))
    assert statistics.median(b - a for a, b in pairwise(times)) <= 1.0

    # Both server workers, by the pids the cluster really forked, and their shares add up.
    workers = {w["pid"]: w for w in data["workers"]}
    assert set(workers) == _worker_pids(server.pid)
    assert sum(w["responses"] for w in workers.values()) == data["responses"]
    assert sum(w["share"] for w in workers.values()) == pytest.approx(1, abs=0.01)
    assert all(w["responses"] > 0 for w in workers.values())

    # ?since= gives only the samples after it; a bad one is a 400 that names the problem.
    newest = samples[-1]["seq"]
    assert all(s["seq"] > newest for s in ui.data(since=newest)["samples"])
    bad = get(f"{ui.url}/cores/data?since=soon")
    assert bad.status == 400 and "since" in bad.json()["error"]

    # The Cores tab's rows ride on Locust's own /stats/requests poll.
    stats = get(f"{ui.url}/stats/requests").json()
    rows = next(t["data"] for t in stats["extended_stats"] if t["key"] == "cores")
    names = [row["what"] for row in rows]
    assert [n for n in names if n.startswith("core ")] == [f"core {i}" for i in range(cores)]
    assert {n.removeprefix("server worker pid ") for n in names if n.startswith("server worker")} == set(workers)


@pytest.mark.parametrize(
    ("locustfile", "env", "served"),
    [("loadtests/", {}, True), ("loadtests/cpu.py", {"CORELAB_CORES_UI": "0"}, False)],
    ids=["every-scenario", "turned-off"],
)
def test_cores_page_comes_with_every_scenario_and_can_be_turned_off(
    locust_ui, locustfile: str, env: dict[str, str], served: bool
) -> None:
    ui = locust_ui("-f", locustfile, env=env)
    page = get(f"{ui.url}/cores")
    assert (page.status == 200) is served, page.status
    if served:
        assert b"Cores, live" in page.body
        assert get(f"{ui.url}/cores/static/cores.js").status == 200
        assert wait_for(lambda: ui.data()["samples"], 5, "samples while idle")
        index = get(f"{ui.url}/").body.decode()
        template_args = json.loads(index.split("window.templateArgs = ", 1)[1].split("\n", 1)[0])
        assert {"key": "cores", "title": "Cores"} in template_args["extended_tabs"]


def _page_state(tools: DevTools, tab: str) -> dict[str, Any] | None:
    return tools.evaluate(
        tab,
        """window.coresPage && document.querySelector(".worker") ? ({
             lastSample: document.getElementById("last-sample").textContent,
             interval: document.getElementById("interval").textContent,
             responses: document.getElementById("responses").textContent,
             cores: [...document.querySelectorAll(".core")].map(r => [r.querySelector(".label").textContent,
                                                                      r.querySelector(".value").textContent]),
             workers: [...document.querySelectorAll(".worker")].map(r => r.dataset.key),
             workerTexts: [...document.querySelectorAll(".worker .value")].map(v => v.textContent),
             intervals: window.coresPage.intervals,
             heatmapColumns: window.coresPage.samples.length,
           }) : null""",
    )


def test_cores_page_in_chromium_moves_while_the_load_runs(serve, locust_ui, tmp_path: Path) -> None:
    server = serve("cluster", "--workers", "2")
    ui = _loaded(locust_ui, server.url, 25)
    with chromium(tmp_path, "the /cores page test") as tools:
        tab = tools.open_tab(f"{ui.url}/cores")
        first = wait_for(
            lambda: (s := _page_state(tools, tab)) and len(s["workers"]) == 2 and len(s["intervals"]) >= 3 and s,
            20,
            f"the /cores page to show both workers: {_page_state(tools, tab)}",
        )
        time.sleep(1.5)
        second = _page_state(tools, tab)
        assert second is not None
        tools.screenshot(tab, tmp_path / "cores-page.png")

        # The numbers moved: a newer sample, more responses, a wider heatmap.
        assert second["lastSample"] != first["lastSample"]
        assert int(second["responses"].replace(",", "")) > int(first["responses"].replace(",", ""))
        assert second["heatmapColumns"] > first["heatmapColumns"]
        assert second["workerTexts"] != first["workerTexts"]
        # One labelled bar per core, one per server worker pid, and an update at least once a second.
        assert [label for label, _ in second["cores"]] == [f"core {i}" for i in usable_cores()]
        # "87% (the server 80%)": the core's busy share, then the server's part of it.
        figures = [[int(x) for x in re.findall(r"(\d+)%", value)] for _, value in second["cores"]]
        assert all(len(f) == 2 and 0 <= f[1] <= f[0] <= 100 for f in figures), second["cores"]
        assert set(second["workers"]) == _worker_pids(server.pid)
        assert statistics.median(second["intervals"]) <= 1.0
        assert float(second["interval"].removesuffix(" s")) <= 1.0
        assert (tmp_path / "cores-page.png").stat().st_size > 10_000

        # The main UI's Cores tab: a table with a row per core and per worker.
        main = tools.open_tab(f"{ui.url}/?tab=cores")
        table = wait_for(
            lambda: (text := tools.evaluate(main, "document.body.innerText")) and "server worker pid" in text and text,
            15,
            "the Cores tab's table",
        )
        assert all(f"core {i}" in table for i in usable_cores())
        # In the order the rows were sent (cores, workers, Locust), not sorted by Locust's table.
        assert table.index("core 0") < table.index("server worker pid") < table.index("Locust (this process)")
        print(json.dumps({"intervals_s": second["intervals"]}))
