"""The student's path, in a real browser: JupyterLab, notebook 02, Run All, the cores live, then the claim.

A real `jupyter lab` (the one `make lab` starts, on a free port) and a real headless Chromium
(tests/browser.py; skipped, saying why, without one). The test opens notebook 02 as a student
would, runs all cells with JupyterLab's own command, and reads the notebook's model while it
runs: the live heatmap must appear while the bench cell is still running and change as it goes
(corelab.live.notebook: a person is looking, so `live="auto"` goes live), and the final figures
and the EveryCore claim must be there at the end, with no error. It reports how long the first
picture took. QUICK=1 keeps the runs short.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from corelab.claim import MIME
from plumbing.procs import ManagedProcess, free_port
from tests.browser import chromium

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "02-every-core.ipynb"

# What the page's notebook model holds now: per code cell, its execution count and a summary of
# its outputs (type, mime types, a short fingerprint of any PNG, the claim's name).
MODEL_STATE = """
(() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.content.model || !panel.sessionContext) return null;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = panel.content.model.cells;
  const out = [];
  for (let i = 0; i < cells.length; i++) {
    const cell = cells.get(i);
    if (cell.type !== 'code') continue;
    const outputs = cell.outputs.toJSON().map(o => {
      const data = o.data || {};
      const png = data['image/png'] || '';
      const claim = data['CLAIM_MIME'];
      return {type: o.output_type, mimes: Object.keys(data),
              png: png ? png.length + ':' + png.slice(-24) : null,
              claim: claim ? claim.claim : null, ename: o.ename || null};
    });
    out.push({source: cell.sharedModel.getSource().slice(0, 60), count: cell.executionCount, outputs});
  }
  return {kernel: kernel ? kernel.status : null, cells: out};
})()
""".replace("CLAIM_MIME", MIME)


def wait_for_server(url: str, server: ManagedProcess, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.alive():
            pytest.fail(f"jupyter lab exited:\n{server.log_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"jupyter lab did not answer {url} within {timeout:g} s:\n{server.log_text()[-3000:]}")


def shut_down_kernels(base: str, token: str) -> None:
    request = urllib.request.Request(f"{base}/api/kernels?token={token}")
    with urllib.request.urlopen(request, timeout=5) as answer:
        kernels = json.loads(answer.read())
    for kernel in kernels:
        delete = urllib.request.Request(f"{base}/api/kernels/{kernel['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(delete, timeout=10).close()


@pytest.mark.notebook
def test_notebook_02_in_jupyterlab_shows_the_cores_live_then_the_claim(tmp_path: Path) -> None:
    if shutil.which("jupyter", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("JupyterLab is not installed in this environment (make installs it)")
    work = tmp_path / "notebooks"
    work.mkdir()
    # A copy: the run's outputs and any autosave stay out of the repository.
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, work / NOTEBOOK)
    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    env = {
        "QUICK": "1",
        # A clean Jupyter: no user settings, no workspace from an earlier session.
        "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
    }
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
        # window.jupyterapp: the page's own application object, to run its commands and read its model.
        "--LabApp.expose_app_in_browser=True",
        # As `make lab` does for root (a container, WSL's default user): Jupyter refuses it otherwise.
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    with ManagedProcess(command, log_path=tmp_path / "jupyter.log", env={**os.environ, **env}) as server:
        wait_for_server(f"{base}/api/status?token={token}", server)
        with chromium(tmp_path, "the JupyterLab test") as browser:
            try:
                tab = browser.open_tab(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
                deadline = time.monotonic() + 120
                while (state := browser.evaluate(tab, MODEL_STATE)) is None or state["kernel"] != "idle":
                    assert time.monotonic() < deadline, f"notebook or kernel not ready: {state}"
                    time.sleep(0.25)
                started = time.monotonic()
                browser.evaluate(tab, "window.jupyterapp.commands.execute('notebook:run-all-cells'); true")
                bench_cell = next(i for i, c in enumerate(state["cells"]) if c["source"].startswith("runs = bench("))
                live_frames: set[str] = set()
                first_picture_s = None
                deadline = time.monotonic() + 240
                while True:
                    state = browser.evaluate(tab, MODEL_STATE)
                    cells = state["cells"]
                    bench = cells[bench_cell]
                    still_running = bench["count"] is None
                    pngs = {o["png"] for o in bench["outputs"] if o["png"]}
                    if pngs and first_picture_s is None:
                        first_picture_s = time.monotonic() - started
                    if still_running:
                        live_frames |= pngs
                    done = all(c["count"] is not None for c in cells) and state["kernel"] == "idle"
                    errors = [o for c in cells for o in c["outputs"] if o["type"] == "error"]
                    assert not errors, f"a cell failed: {errors}"
                    if done:
                        break
                    assert time.monotonic() < deadline, f"notebook 02 did not finish in 240 s: {state}"
                    time.sleep(0.25)
                total_s = time.monotonic() - started
                browser.screenshot(tab, tmp_path / "jupyterlab-02.png")
            finally:
                shut_down_kernels(base, token)
    print(f"JupyterLab, notebook 02: first picture {first_picture_s:.1f} s after Run All; all cells {total_s:.0f} s")
    # The heatmap was drawn while the run went, and redrawn: several different frames before it ended.
    assert first_picture_s is not None and len(live_frames) >= 3, (first_picture_s, len(live_frames))
    figure_cells = [c for c in cells if c["source"].startswith(("fig = plot_cores", "fig = plot_throughput"))]
    assert figure_cells and all(any(o["png"] for o in c["outputs"]) for c in figure_cells), figure_cells
    assert any(o["claim"] == "EveryCore" for c in cells for o in c["outputs"]), cells[-1]
