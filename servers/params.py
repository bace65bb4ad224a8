"""Query-parameter parsing that turns every bad value into a 400 naming the problem."""

from __future__ import annotations

import json
import math

from aiohttp import web


def bad_request(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


def positive_ms(request: web.Request, name: str, cap: float) -> float:
    """The query parameter ``name`` as a number of milliseconds in (0, cap]."""
    allowed = f"'{name}' must be a number of milliseconds greater than 0 and at most {cap:g}"
    raw = request.query.get(name)
    if raw is None:
        raise bad_request(f"missing query parameter '{name}': {allowed}")
    try:
        value = float(raw)
    except ValueError:
        raise bad_request(f"'{name}={raw[:40]}' is not a number: {allowed}") from None
    if not math.isfinite(value) or value <= 0 or value > cap:
        raise bad_request(f"'{name}={raw[:40]}' is out of range: {allowed}")
    return value


def choice(request: web.Request, name: str, allowed: tuple[str, ...]) -> str:
    """The query parameter ``name``, one of ``allowed``; the first one when absent."""
    raw = request.query.get(name, allowed[0])
    if raw not in allowed:
        raise bad_request(f"'{name}={raw[:40]}' is not allowed: use one of {', '.join(allowed)}")
    return raw
