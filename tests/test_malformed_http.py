"""Malformed HTTP gets 400 and one line in the server's log, not a traceback in an instructor's terminal.

aiohttp's parser refuses a request line or header over 8,190 bytes and more than 128 headers with
400, then logs the parser's exception with a traceback ("Error handling request"). The kit's
servers turn that into one line (servers/serve.py, OneLineBadRequests). Checked on one process
and in cluster workers, behind each way connections reach them (shared socket, sticky peek).
"""

from __future__ import annotations

import re
import socket

import pytest

from tests.http import get
from tests.polling import wait_for

pytestmark = pytest.mark.timeout(90)

LONG_REQUEST_LINE = b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
MANY_HEADERS = b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n"
ONE_LINE = re.compile(r"400 Bad Request from 127\.0\.0\.1 \(pid \d+\): .+")

VARIANTS = {
    "single": (),
    "cluster": ("--workers", "2"),
    "sticky": ("--workers", "2"),
}


def _send(port: int, request: bytes) -> tuple[int, bytes]:
    """Send ``request`` on a new connection; the response's status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        try:
            conn.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading all of it
        response = b""
        while chunk := conn.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_malformed_requests_get_400_and_one_log_line(variant: str, serve) -> None:
    server = serve(variant, *VARIANTS[variant], ready_line=None if variant == "single" else "cluster ready")
    status, body = _send(server.port, LONG_REQUEST_LINE)
    assert status == 400 and b"Got more than" in body, body[:200]
    status, body = _send(server.port, MANY_HEADERS)
    assert status == 400 and b"Too many headers" in body, body[:200]
    assert get(f"{server.url}/health").status == 200  # and the server serves on

    def reports() -> list[str]:
        return [line for line in server.log().splitlines() if ONE_LINE.search(line)]

    lines = wait_for(lambda: len(reports()) >= 2 and reports(), 10, "one log line for each bad request")
    assert len(lines) == 2, server.log()
    assert "Got more than 8190 bytes" in lines[0] and len(lines[0]) < 300, lines[0]
    assert "Too many headers received" in lines[1], lines[1]
    log = server.log()
    assert "Traceback" not in log and "Error handling request" not in log, log
