"""python -m servers.cluster [--workers N] [--policy shared|reuseport|rr] [--port P] [--admin-port A] ...

See ``--help`` for every option and the signals the primary understands.
"""

from __future__ import annotations

import logging
import os
import sys

from servers.cluster.config import parse_args
from servers.cluster.primary import Primary
from servers.listen import EXIT_UNSUPPORTED, ListenError


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    if not hasattr(os, "fork"):
        # Windows has no fork(): the cluster, like Node's on a Unix, is built on it.
        print("error: servers.cluster needs fork(), which Windows lacks: run corelab inside WSL", file=sys.stderr)
        return EXIT_UNSUPPORTED
    logging.basicConfig(level=logging.INFO, format="cluster: %(message)s", stream=sys.stderr)
    try:
        return Primary(config).run()
    except ListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
