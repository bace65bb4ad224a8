"""The live per-core heatmap in a real Jupyter kernel: updates in place while a run goes, none when off.

A real ipykernel is started with jupyter_client and sent execute requests as a frontend would;
the test reads what the kernel publishes on IOPub. ``bench`` runs a real variant under real
Locust (QUICK-sized). Whether a run goes live on its own is decided by what the frontend sends:
JupyterLab's execute requests allow stdin, nbclient's do not (see corelab/live/notebook.py).
"""

from __future__ import annotations

import itertools
import json
import queue
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import KernelManager

from plumbing.procs import PROJECT_ROOT

RUN_SECONDS = 4


@dataclass
class Executed:
    """What the kernel published for one execute request, each message with its arrival time."""

    messages: list[tuple[float, dict]] = field(default_factory=list)
    reply: dict = field(default_factory=dict)

    def of_type(self, msg_type: str) -> list[tuple[float, dict]]:
        return [(t, m) for t, m in self.messages if m["msg_type"] == msg_type]

    def display_ids(self, msg_type: str) -> list[str]:
        return [m["content"].get("transient", {}).get("display_id") for _t, m in self.of_type(msg_type)]

    def stdout(self) -> str:
        return "".join(m["content"]["text"] for _t, m in self.of_type("stream") if m["content"]["name"] == "stdout")


@pytest.fixture
def kernel(tmp_path: Path) -> Iterator[BlockingKernelClient]:
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(cwd=str(PROJECT_ROOT))
    client = manager.blocking_client()
    client.start_channels()  # with stdin: the client can allow stdin, as JupyterLab does
    try:
        client.wait_for_ready(timeout=60)
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=False)


def execute(client: BlockingKernelClient, code: str, *, allow_stdin: bool, timeout: float = 120) -> Executed:
    msg_id = client.execute(code, allow_stdin=allow_stdin, stop_on_error=True)
    done = Executed()
    deadline = time.monotonic() + timeout
    while True:
        try:
            msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"the kernel did not finish within {timeout:g} s: {done.stdout()}") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        done.messages.append((time.monotonic(), msg))
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    done.reply = client.get_shell_msg(timeout=30)["content"]
    errors = [m["content"] for _t, m in done.of_type("error")]
    assert done.reply["status"] == "ok", json.dumps(errors)[:3000]
    return done


def bench_cell(tmp_path: Path, live: str) -> str:
    # QUICK-sized: one short run of the one-process server under the CPU scenario.
    return (
        "from corelab import bench\n"
        f"runs = bench(['single'], seconds={RUN_SECONDS}, users=4, out={str(tmp_path / live)!r}, live={live})\n"
        "print('runs', len(runs.summary))\n"
    )


def test_bench_live_updates_one_display_about_once_a_second_and_ends_on_a_figure(
    kernel: BlockingKernelClient, tmp_path: Path
) -> None:
    done = execute(kernel, bench_cell(tmp_path, "True"), allow_stdin=False)
    assert "runs 1" in done.stdout()

    shown = done.of_type("display_data")
    live_ids = [i for i in done.display_ids("display_data") if i]
    assert len(live_ids) == 1, [m["content"].get("transient") for _t, m in shown]
    display_id = live_ids[0]
    updates = [
        (t, m) for t, m in done.of_type("update_display_data") if m["content"]["transient"]["display_id"] == display_id
    ]
    # About one a second through the run, and the last one (the run's full heatmap) a figure.
    assert len(updates) >= RUN_SECONDS - 1, len(updates)
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(updates)]
    assert sorted(gaps)[len(gaps) // 2] <= 1.5, gaps
    for _t, msg in updates:
        assert msg["content"]["data"]["image/png"], "every update is an image"
    final = updates[-1][1]["content"]["data"]
    assert final["image/png"] and final["text/plain"].startswith("<cores: single")
    # The view says what it cost; it must be a small share of one core (measured: well under 2%).
    cost = re.search(r"live view: (\d+) updates, ([\d.]+)% of a core", done.stdout())
    assert cost, done.stdout()
    assert int(cost.group(1)) == len(updates)
    assert float(cost.group(2)) < 10.0, cost.group(0)

    off = execute(kernel, bench_cell(tmp_path, "False"), allow_stdin=True)
    assert "runs 1" in off.stdout()
    assert off.of_type("update_display_data") == []
    assert not any(off.display_ids("display_data")), "no live display with live=False"


LIVE_WANTED = "from corelab.live.notebook import live_wanted\nprint('live', live_wanted('auto'))\n"


def test_auto_is_live_only_for_a_frontend_that_allows_stdin(kernel: BlockingKernelClient) -> None:
    # JupyterLab's execute requests allow stdin; nbclient's (tests, nbconvert, papermill) do not.
    assert "live True" in execute(kernel, LIVE_WANTED, allow_stdin=True).stdout()
    assert "live False" in execute(kernel, LIVE_WANTED, allow_stdin=False).stdout()
    # CORELAB_LIVE=0 turns it off even there.
    setenv = "import os\nos.environ['CORELAB_LIVE'] = '0'\n"
    assert "live False" in execute(kernel, setenv + LIVE_WANTED, allow_stdin=True).stdout()


def test_never_live_in_a_plain_script() -> None:
    code = (
        "import os\n"
        "from corelab.live.notebook import live_wanted\n"
        "os.environ['CORELAB_LIVE'] = '1'\n"
        "print(live_wanted('auto'))\n"
        "try:\n"
        "    live_wanted(True)\n"
        "except ValueError as exc:\n"
        "    print('refused:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True).stdout
    assert out.splitlines()[0] == "False"
    assert out.splitlines()[1].startswith("refused: live=True needs a Jupyter kernel")
