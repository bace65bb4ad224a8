"""The /chat page in a real headless Chromium, two tabs, driven over the Chrome DevTools protocol.

The page loads the vendored socket.io client from the server and connects with its default
transports (long-polling, then the upgrade to WebSocket). On servers.sticky a message typed in
one tab is missing from a tab served by the other worker; on servers.pubsub it arrives.
Skipped, saying why, where no Chromium is installed (CI installs Debian's when it runs as root).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from plumbing.redis_server import RedisServer
from tests.browser import DevTools, chromium
from tests.polling import wait_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    with chromium(tmp_path, "the /chat page test") as tools:
        yield tools


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
