"""The live /cores page with 64 cores and 64 workers, in a real headless Chromium: the page itself
(loadtests/static) served as Locust serves it, its data made up as a 64-core machine would send it."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from plumbing.procs import PROJECT_ROOT
from tests.browser import chromium
from tests.polling import wait_for

STATIC = PROJECT_ROOT / "loadtests" / "static"
CORES = WORKERS = 64


def data(seq: int) -> dict[str, Any]:
    """What /cores/data answers on a 64-core machine with 64 busy workers and 8 idle cores."""
    rng = random.Random(seq)
    samples = [
        {
            "seq": s,
            "t": 1_700_000_000 + s * 0.5,
            "cores": [0.0 if c >= 56 else 85 + rng.random() * 15 for c in range(CORES)],
            "locust_cpu": 40.0,
            "served": {},
        }
        for s in range(max(1, seq - 3), seq + 1)
    ]
    workers = [
        {"pid": str(5000 + w), "responses": 1000, "share": 1 / WORKERS, "recent_share": 1 / WORKERS, "rps": 90.0}
        for w in range(WORKERS)
    ]
    return {
        "period_s": 0.5, "seq": seq, "cores": CORES, "core_ids": list(range(CORES)), "samples": samples,
        "workers": workers, "responses": 64_000, "host": "http://127.0.0.1:8000", "state": "running", "users": 256,
    }  # fmt: skip


@contextmanager
def page_server() -> Iterator[str]:
    started = time.monotonic()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/cores":
                body, kind = (STATIC / "cores.html").read_bytes(), "text/html"
            elif path == "/cores/static/cores.js":
                body, kind = (STATIC / "cores.js").read_bytes(), "text/javascript"
            elif path == "/cores/data":
                body, kind = json.dumps(data(int((time.monotonic() - started) * 2) + 1)).encode(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_cores_page_stays_a_screen_or_two_tall_at_64_cores(tmp_path: Path) -> None:
    with page_server() as url, chromium(tmp_path, "the /cores page at 64 cores") as tools:
        tab = tools.open_tab(f"{url}/cores")
        tools.call("Emulation.setDeviceMetricsOverride", tab, width=1280, height=800, deviceScaleFactor=1, mobile=False)
        state = wait_for(
            lambda: tools.evaluate(
                tab,
                """document.querySelectorAll(".worker").length === 64 ? ({
                     height: document.documentElement.scrollHeight,
                     cores: document.querySelectorAll(".core.tile").length,
                     coreWidths: [...document.querySelectorAll(".core .bar")].map(b => parseFloat(b.style.width)),
                     workerWidths: [...document.querySelectorAll(".worker .bar")].map(b => parseFloat(b.style.width)),
                     workerText: document.querySelector(".worker .value").textContent,
                     heatmapHeight: document.getElementById("heatmap").getBoundingClientRect().height,
                     labels: document.getElementById("heat-labels").children.length,
                   }) : null""",
            ),
            20,
            "the /cores page to draw 64 workers",
        )
        tools.screenshot(tab, tmp_path / "cores-64.png", width=1280, height=1400)
    assert state["cores"] == 64, state  # tiles, not 64 bar rows
    assert state["height"] <= 1600, state  # was about 5,000 px with a bar a line
    assert state["heatmapHeight"] <= 400 and state["labels"] <= 16, state
    busy, idle = state["coreWidths"][:56], state["coreWidths"][56:]
    assert all(85 <= w <= 100 for w in busy) and all(w == 0 for w in idle), state["coreWidths"]
    # An even share fills half a worker's bar (full at twice an even share), and says so.
    assert all(abs(w - 50) < 0.5 for w in state["workerWidths"]), state["workerWidths"]
    assert state["workerText"] == "1.00x even", state
