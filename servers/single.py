"""One process, one event loop, one core: the baseline every other variant is measured against.

python -m servers.single [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from dataclasses import dataclass

from aiohttp import web

from servers.app import create_app
from servers.listen import LOOPBACK, ListenError, open_listener, warn_if_exposed
from servers.serve import serve_until
from servers.settings import add_state_arguments, export_state_arguments


@dataclass(frozen=True)
class SingleConfig:
    host: str = LOOPBACK
    port: int = 8000
    graceful_timeout: float = 10.0


def parse_args(argv: list[str] | None = None) -> SingleConfig:
    parser = argparse.ArgumentParser(prog="python -m servers.single", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--graceful-timeout", type=float, default=10.0, help="seconds in-flight requests get on stop")
    add_state_arguments(parser)
    args = parser.parse_args(argv)
    export_state_arguments(args)
    return SingleConfig(args.host, args.port, args.graceful_timeout)


async def run(config: SingleConfig) -> None:
    warn_if_exposed(config.host)
    sock = open_listener(config.host, config.port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    async def start(runner: web.AppRunner) -> None:
        await web.SockSite(runner, sock).start()
        print(f"single: pid {os.getpid()} serving http://{config.host}:{config.port}", flush=True)

    await serve_until(create_app(), stop, start, shutdown_timeout=config.graceful_timeout)


def main(argv: list[str] | None = None) -> int:
    try:
        asyncio.run(run(parse_args(argv)))
    except ListenError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
