"""Messages between the primary and a worker.

Each message is a flat dict with a verb (``act``) and a sequence number (``seq``), sent as one
line of JSON over a Unix stream socket pair. A file descriptor (a client connection under the
rr policy) travels as ancillary data with the line that announces it.
"""

from __future__ import annotations

import json
import os
import socket
from collections import deque
from typing import Any

Message = dict[str, Any]

# Verbs. Worker -> primary:
READY = "ready"  # the worker is serving
HEARTBEAT = "heartbeat"  # pid, rss_bytes, uptime_s, requests_served, time: sent from the event loop
RECYCLE = "recycle"  # reason: the worker asks to be replaced (e.g. --max-requests reached)
# Primary -> worker:
CONN = "conn"  # a client connection follows as a file descriptor
STOP = "stop"  # stop taking connections, finish in-flight requests, exit


class Channel:
    """One end of a primary <-> worker socket pair."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._seq = 0
        self._buffer = b""
        self._fds: deque[int] = deque()

    @classmethod
    def pair(cls) -> tuple[Channel, Channel]:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        return cls(a), cls(b)

    def fileno(self) -> int:
        return self.sock.fileno()

    def send(self, act: str, fd: int | None = None, **fields: Any) -> None:
        self._seq += 1
        line = json.dumps({"act": act, "seq": self._seq, **fields}).encode() + b"\n"
        if fd is None:
            self.sock.sendall(line)
        else:
            socket.send_fds(self.sock, [line], [fd])

    def receive(self) -> list[tuple[Message, int | None]]:
        """Read what is waiting; return whole messages, each with the descriptor it carried.

        Raises EOFError when the other end has closed (its process died or stopped).
        """
        data, fds, _flags, _addr = socket.recv_fds(self.sock, 65536, 64)
        if not data:
            for fd in fds:
                os.close(fd)
            raise EOFError
        # The kernel never hands a descriptor over before the bytes sent with it, so
        # descriptors queue up in order and each CONN line takes the oldest one.
        self._fds.extend(fds)
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        messages: list[tuple[Message, int | None]] = []
        for line in lines:
            try:
                msg = json.loads(line)
            except ValueError:
                continue  # a torn line (the sender died mid-write): skip it, keep the channel
            fd = self._fds.popleft() if msg["act"] == CONN else None
            messages.append((msg, fd))
        return messages

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()
        self.sock.close()
