"""python -m corelab top: every core and the server's processes by role, live in the terminal.

    python -m corelab top --port 8000 --admin-port 8001   # attach to the variant on port 8000
    python -m corelab top --pid 12345                     # or to a process (its tree's root is found)
    python -m corelab top --port 8000 --frames 3          # 3 plain frames, for scripts and tests

Exit codes: 0 on Ctrl-C and when the server goes away (one line says which), 2 when there is
nothing to attach to (nothing listening on the port, no such pid) or an option is out of range.
The parts: toptree finds the tree and its roles, topstate samples, topview draws.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Iterator
from types import FrameType

from corelab.live.topstate import ServerGone, Watcher
from corelab.live.toptree import LOOPBACK, NotFound, find_root, listening_pids

DEFAULT_HZ = 4.0
EXIT_NOTHING_TO_WATCH = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--port", type=int, default=8000, help="attach to what listens on 127.0.0.1:PORT (8000)")
    target.add_argument("--pid", type=int, help="attach to this process's server tree instead")
    parser.add_argument(
        "--admin-port", type=int, help="the cluster's --admin-port: requests served, req/s and state per worker"
    )
    parser.add_argument("--hz", type=float, default=DEFAULT_HZ, help=f"frames per second (default {DEFAULT_HZ:g})")
    parser.add_argument("--frames", type=int, help="print this many plain frames and exit (no live redraw)")


def run_top(args: argparse.Namespace) -> int:
    if not 0.2 <= args.hz <= 20:
        return _fail("--hz must be between 0.2 and 20")
    if args.frames is not None and args.frames < 1:
        return _fail("--frames must be at least 1")
    try:
        if args.pid is not None:
            root = find_root(args.pid)
            where = f"(pid {root.pid})"
        else:
            root = find_root(listening_pids(args.port)[0])
            where = f"on {LOOPBACK}:{args.port} (pid {root.pid})"
    except NotFound as exc:
        return _fail(str(exc))
    watcher = Watcher(root, port=None if args.pid is not None else args.port, admin_port=args.admin_port)
    # SIGTERM ends it as Ctrl-C does: the live display gives the terminal back (cursor shown).
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        watcher.prime()
        if args.frames is not None:
            _print_frames(watcher, where, args.hz, args.frames)
        else:
            _live(watcher, where, args.hz)
    except ServerGone as gone:
        print(f"corelab top: {gone}", flush=True)
    except KeyboardInterrupt:
        print("corelab top: stopped", flush=True)
    return 0


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return EXIT_NOTHING_TO_WATCH


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _ticks(hz: float) -> Iterator[None]:
    """Sleep to the next tick of a steady clock; a late tick (a suspended machine) does not burst."""
    interval = 1.0 / hz
    next_tick = time.monotonic() + interval
    while True:
        # A plain sleep: on small VMs waking from Event.wait costs about twice as much CPU.
        time.sleep(max(0.0, next_tick - time.monotonic()))
        yield
        next_tick += interval
        if next_tick < time.monotonic():
            next_tick = time.monotonic() + interval


def _print_frames(watcher: Watcher, where: str, hz: float, frames: int) -> None:
    from rich.console import Console
    from rich.rule import Rule

    from corelab.live.topview import render

    console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
    for number, _ in enumerate(_ticks(hz), start=1):
        frame = watcher.sample()
        console.print(Rule(f"frame {number}/{frames}", style="grey50"))
        console.print(render(frame, where, hz))
        if number >= frames:
            return


def _live(watcher: Watcher, where: str, hz: float) -> None:
    from rich.console import Console
    from rich.live import Live

    from corelab.live.topview import render

    console = Console(highlight=False)
    # No refresh thread: each frame is drawn once, when it is sampled (cheaper, and never stale).
    with Live(console=console, auto_refresh=False, transient=False) as live:
        for _ in _ticks(hz):
            # Laid out for the terminal as it is now: a resized window gets a frame that fits it.
            width, height = console.size
            live.update(render(watcher.sample(), where, hz, width, height), refresh=True)
