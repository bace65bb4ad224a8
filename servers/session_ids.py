"""How a sticky-mode Socket.IO session id names the worker that holds it, and where it travels.

The chat (servers/chat.py) makes the ids: in sticky mode each worker's engine.io session ids
start with ``w<pid>.``. The sticky policy (servers/cluster/policies/sticky.py) reads them: it
finds the ``sid`` in a request's first line and hands the connection to that pid's worker, so
the primary keeps no table of sessions. Both import this module; neither imports the other.
"""

from __future__ import annotations

import re

# engine.io puts the session id in the query string: GET /socket.io/?EIO=4&transport=polling&sid=...
_SID = re.compile(rb"[?&]sid=([A-Za-z0-9._~%-]+)")


def worker_sid_prefix(pid: int) -> str:
    """What every session id of worker ``pid`` starts with, in sticky mode."""
    return f"w{pid}."


def owner_pid(sid: str) -> int | None:
    """The worker pid a sticky-mode session id names, or None for any other id."""
    head, dot, _rest = sid.partition(".")
    if not dot or not head.startswith("w") or not head[1:].isdigit():
        return None
    return int(head[1:])


def sid_in_request_line(line: bytes) -> str | None:
    """The ``sid`` query parameter of an HTTP request line, if there is one."""
    match = _SID.search(line)
    return match.group(1).decode("ascii") if match else None
