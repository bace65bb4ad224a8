"""A tiny HTTP client for tests (the standard library's, so the client is never the thing tested)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def worker_pid(self) -> int:
        return int(self.headers["X-Worker-Pid"])


def get(url: str, timeout: float = 10.0, headers: dict[str, str] | None = None) -> Reply:
    """GET ``url`` on a new connection; an HTTP error status is a Reply too, not an exception."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return Reply(resp.status, dict(resp.headers), resp.read())
    except urllib.error.HTTPError as err:
        return Reply(err.code, dict(err.headers), err.read())
