"""python -m servers.cluster [--workers N] [--policy shared|reuseport|rr] [--port P] [--admin-port A] ...

See ``--help`` for every option and the signals the primary understands.
"""

from __future__ import annotations

import logging
import sys

from servers.cluster.config import parse_args
from servers.cluster.primary import Primary
from servers.listen import ListenError


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="cluster: %(message)s", stream=sys.stderr)
    try:
        return Primary(config).run()
    except ListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
