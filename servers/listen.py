"""Opening the listening socket: loopback by default, one clear line when that fails."""

from __future__ import annotations

import errno
import ipaddress
import socket
import sys

LOOPBACK = "127.0.0.1"

# Named exit codes, so a script (or the cluster's primary) can tell failures apart.
EXIT_ADDRESS_UNAVAILABLE = 3
EXIT_UNSUPPORTED = 4


class ListenError(Exception):
    """A socket could not be opened; the message is one line meant for a person."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def warn_if_exposed(host: str) -> None:
    """The kit serves loopback only unless asked otherwise; say so when asked otherwise."""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        print(
            f"warning: listening on {host}, not loopback: other machines can reach this "
            "server and its CPU-burning endpoints",
            file=sys.stderr,
        )


def open_listener(host: str, port: int, *, reuse_port: bool = False, backlog: int = 1024) -> socket.socket:
    """A bound, listening, non-blocking TCP socket, or a ListenError that says why not."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            if not hasattr(socket, "SO_REUSEPORT"):
                raise ListenError(
                    "this platform has no SO_REUSEPORT: use --policy shared or rr",
                    EXIT_UNSUPPORTED,
                )
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenError(
                f"{host}:{port} is already in use: stop what is listening there or pick another --port",
                EXIT_ADDRESS_UNAVAILABLE,
            ) from None
        raise ListenError(f"cannot listen on {host}:{port}: {exc.strerror}", EXIT_ADDRESS_UNAVAILABLE) from None
    except ListenError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
