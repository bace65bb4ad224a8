"""Why a fleet could not start or keep going: one line for a person, one named exit code for a script."""

from __future__ import annotations

from servers.listen import EXIT_ADDRESS_UNAVAILABLE

EXIT_USAGE = 2  # argparse's: an unknown --lb, --hosts 0, ...
EXIT_BUSY_PORT = EXIT_ADDRESS_UNAVAILABLE  # 3, as the cluster says it
EXIT_CADDY_MISSING = 5
EXIT_REDIS_UNAVAILABLE = 6
EXIT_HOST_BOOT_FAILED = 7
EXIT_BALANCER_FAILED = 8
EXIT_NO_HOST_LEFT = 9
EXIT_LOOPBACK_MISSING = 10  # a host's 127.0.0.N is not on this machine (macOS: ifconfig lo0 alias)


class FleetError(Exception):
    """The fleet cannot go on; the message is one line meant for a person."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class StopRequested(Exception):
    """A signal asked the fleet to stop while it was still starting."""
