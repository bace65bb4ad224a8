"""The /chat page in a real headless Chromium, two tabs, driven over the Chrome DevTools protocol.

The page loads the vendored socket.io client from the server and connects with its default
transports (long-polling, then the upgrade to WebSocket). On servers.sticky a message typed in
one tab is missing from a tab served by the other worker; on servers.pubsub it arrives.
Skipped, saying why, where no Chromium is installed (CI installs Debian's when it runs as root).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websocket

from corelab.procs import ManagedProcess
from corelab.redis_server import RedisServer
from tests.polling import wait_for

pytestmark = pytest.mark.timeout(120)

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

    def close(self) -> None:
        self.ws.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            "no Chromium installed (looked for " + ", ".join(CHROMIUM_NAMES) + "): "
            "`apt-get install chromium` to run the /chat page test; .ci/run does so when it runs as root"
        )
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    log = tmp_path / "chromium.log"
    process = ManagedProcess([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"], log_path=log)
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


def _tab_state(tools: DevTools, tab: str) -> dict[str, Any]:
    """What the tab shows; empty while the page is still loading."""
    state = tools.evaluate(
        tab,
        """document.getElementById("worker") && document.getElementById("status") ?
           ({worker: document.getElementById("worker").textContent,
             transport: document.getElementById("transport").textContent,
             status: document.getElementById("status").textContent,
             messages: [...document.querySelectorAll("#messages li")].map(li => li.textContent)}) : null""",
    )
    return state or {"worker": "", "transport": "", "status": "loading", "messages": []}


def _two_tabs_on_two_workers(tools: DevTools, url: str) -> tuple[str, str, list[str]]:
    """Open tabs on the /chat page until two are served by different workers (at most 6 tabs)."""
    tabs: dict[str, str] = {}  # worker pid -> tab
    opened = []
    for _ in range(6):
        tab = tools.open_tab(f"{url}/chat?room=class")
        opened.append(tab)
        state = wait_for(
            lambda tab=tab: (s := _tab_state(tools, tab))["status"] == "joined" and s["worker"].isdigit() and s,
            20,
            f"a tab did not connect and join: {_tab_state(tools, tab)}",
        )
        tabs.setdefault(state["worker"], tab)
        if len(tabs) == 2:
            first, second = tabs.values()
            return first, second, opened
    raise AssertionError(f"six tabs, all on one worker: {list(tabs)}")


def _send(tools: DevTools, tab: str, text: str) -> None:
    tools.evaluate(
        tab, f'document.getElementById("text").value = {json.dumps(text)}; document.getElementById("send").click()'
    )


def _upgraded(tools: DevTools, tab: str) -> bool:
    return _tab_state(tools, tab)["transport"] == "websocket"


def test_chat_page_two_tabs_sticky_loses_and_pubsub_delivers(
    serve, redis_server: RedisServer, browser: DevTools
) -> None:
    # Sticky: both tabs connect (long-polling, then WebSocket), but a message stays on its worker.
    sticky = serve("sticky", "--workers", "2", ready_line="cluster ready")
    a, b, _ = _two_tabs_on_two_workers(browser, sticky.url)
    wait_for(lambda: _upgraded(browser, a) and _upgraded(browser, b), 15, "the tabs did not upgrade to WebSocket")
    _send(browser, a, "hello from tab A")
    wait_for(lambda: any("hello from tab A" in m for m in _tab_state(browser, a)["messages"]), 10, "own message")
    time.sleep(1.5)
    assert not any("hello from tab A" in m for m in _tab_state(browser, b)["messages"]), "sticky delivered across?"

    # pubsub: the same two tabs' story, and now the message arrives, stamped with the delivering worker.
    pubsub = serve("pubsub", "--workers", "2", "--redis-url", redis_server.url, ready_line="cluster ready")
    a, b, _ = _two_tabs_on_two_workers(browser, pubsub.url)
    worker_b = _tab_state(browser, b)["worker"]
    _send(browser, a, "hello again from tab A")
    arrived = wait_for(
        lambda: [m for m in _tab_state(browser, b)["messages"] if "hello again from tab A" in m],
        10,
        "pubsub did not deliver to the tab on the other worker",
    )
    assert f"delivered by worker {worker_b}" in arrived[0]
