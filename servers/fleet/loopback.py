"""Check, before anything starts, that the fleet's hosts' loopback addresses exist on this machine.

Linux routes all of 127.0.0.0/8 to the loopback device, so 127.0.0.2, 127.0.0.3, ... just work.
macOS's lo0 has only 127.0.0.1: binding 127.0.0.2 fails with EADDRNOTAVAIL until someone adds an
alias (``sudo ifconfig lo0 alias 127.0.0.2 up``, gone at the next reboot). A container or network
namespace whose ``lo`` has only 127.0.0.1/32 is the same on Linux. Either way the fleet says the
one command that fixes it, instead of a host failing to boot with a socket error.
"""

from __future__ import annotations

import errno
import socket
import sys
from collections.abc import Iterable


class LoopbackMissing(Exception):
    """Loopback addresses the fleet needs are missing; the message is the one line that says the fix."""

    def __init__(self, missing: list[str], platform: str | None = None) -> None:
        super().__init__(missing_line(missing, platform))
        self.missing = missing

    # IPython shows this instead of a traceback: in notebook 12 the fix is the whole message.
    def _render_traceback_(self) -> list[str]:
        return [f"{type(self).__name__}: {self}"]


def can_bind(address: str) -> bool:
    """Whether this machine has ``address``: a socket binds to it (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((address, 0))
        except OSError as exc:
            if exc.errno == errno.EADDRNOTAVAIL:
                return False
            raise
    return True


def missing_addresses(addresses: Iterable[str]) -> list[str]:
    return [address for address in addresses if not can_bind(address)]


def fix_command(missing: list[str], platform: str | None = None) -> str:
    """The command line that adds the missing addresses on this OS (as root)."""
    platform = platform or sys.platform
    if platform.startswith("linux"):
        # One /8 address makes the kernel treat all of 127.0.0.0/8 as local: every host's address.
        return f"sudo ip addr add {missing[0]}/8 dev lo"
    # macOS and the BSDs: one alias per address.
    return " && ".join(f"sudo ifconfig lo0 alias {address} up" for address in missing)


def missing_line(missing: list[str], platform: str | None = None) -> str:
    shown = ", ".join(missing)
    return (
        f"the fleet's hosts need loopback address{'es' if len(missing) > 1 else ''} {shown}, "
        f"which this machine's loopback interface does not have: run `{fix_command(missing, platform)}` "
        "(until the next reboot) and start the fleet again"
    )


def check_loopback(addresses: Iterable[str]) -> None:
    """Raise LoopbackMissing, naming the fix, if any of ``addresses`` cannot be bound."""
    missing = missing_addresses(addresses)
    if missing:
        raise LoopbackMissing(missing)
