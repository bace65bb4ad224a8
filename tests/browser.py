"""A real headless Chromium for the page tests, driven over the Chrome DevTools protocol.

``chromium(folder, what)`` starts one (a fresh profile under ``folder``) and yields a
``DevTools`` client; the test is skipped, saying why, where no Chromium is installed
(.ci/run installs Debian's when it runs as root). The client sends commands and waits for
their replies; events are ignored, so a test polls the page's DOM with ``evaluate``.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import websocket

from plumbing.procs import ManagedProcess

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


def find_chromium() -> str | None:
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


class DevTools:
    """A minimal Chrome DevTools protocol client: commands, with their replies; events ignored."""

    def __init__(self, ws_url: str) -> None:
        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.last_id = 0

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.last_id += 1
        message: dict[str, Any] = {"id": self.last_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.last_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]

    def open_tab(self, url: str) -> str:
        target = self.call("Target.createTarget", url=url)["targetId"]
        return self.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]

    def evaluate(self, session: str, expression: str) -> Any:
        result = self.call("Runtime.evaluate", session, expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self, session: str, path: Path, width: int = 1200, height: int = 800) -> Path:
        """Save what the tab shows now, at ``width`` x ``height`` CSS pixels, as a PNG."""
        self.call(
            "Emulation.setDeviceMetricsOverride", session, width=width, height=height, deviceScaleFactor=1, mobile=False
        )
        png = self.call("Page.captureScreenshot", session, format="png")["data"]
        path.write_bytes(base64.b64decode(png))
        return path

    def close(self) -> None:
        self.ws.close()


@contextmanager
def chromium(folder: Path, what: str) -> Iterator[DevTools]:
    """A headless Chromium with a fresh profile in ``folder``, stopped afterwards; skips ``what`` without one."""
    executable = find_chromium()
    if executable is None:
        pytest.skip(
            "no Chromium installed (looked for " + ", ".join(CHROMIUM_NAMES) + "): "
            f"`apt-get install chromium` to run {what}; .ci/run does so when it runs as root"
        )
    profile = folder / "chromium-profile"
    profile.mkdir()
    log = folder / "chromium.log"
    process = ManagedProcess([executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"], log_path=log)
    try:
        deadline = time.monotonic() + 30
        while not (match := re.search(r"DevTools listening on (ws://\S+)", process.log_text())):
            if not process.alive() or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start:\n{process.log_text()[-2000:]}")
            time.sleep(0.1)
        tools = DevTools(match.group(1))
        try:
            yield tools
        finally:
            tools.close()
    finally:
        process.stop()
