"""python -m servers.fleet --hosts N --workers W --lb round_robin|least_conn|ip_hash|cookie --port P

python -m servers.fleet --print-config --upstream ADDR [ADDR ...] [--lb L] [--host H] [--port P]

See ``--help`` for every option.
"""

from __future__ import annotations

import sys

from servers.fleet.caddy_config import caddy_config, to_json
from servers.fleet.config import parse_args
from servers.fleet.runner import Fleet
from servers.listen import warn_if_exposed


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    if args.print_config:
        # For a front machine in front of real hosts; without --upstream, this fleet's own hosts.
        warn_if_exposed(config.host)
        upstreams = args.upstream or config.upstreams()
        sys.stdout.write(
            to_json(caddy_config(upstreams, lb=config.lb, host=config.host, port=config.port, health=config.health))
        )
        return 0
    return Fleet(config).run()


if __name__ == "__main__":
    sys.exit(main())
