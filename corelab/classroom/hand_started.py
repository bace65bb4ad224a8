"""Recognise the kit's programs that someone started by hand, from their command lines.

What the kit starts carries the CORELAB_KIT tag in its environment (plumbing.procs). What a
person starts in a terminal does not: ``python -m servers.cluster ...``, ``locust -f
loadtests/...``, or a fleet's Caddy and Redis outliving it. ``corelab clean`` and ``doctor``
must see those too, so this module reads a process's command line the way the program itself
would, never by a loose substring: ``python -c "..." -m servers.single`` runs the ``-c`` code
(the rest are its arguments), and ``python -m http.server`` in the kit's folder is not the kit's.

Each rule also asks that the program be this kit's, not another project's ``servers`` package:
a python running from the kit's folder or its virtualenv, a locustfile under its loadtests/, a
Caddy configuration the fleet wrote, a Redis working in the folder the kit made for it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import psutil

from plumbing.procs import PROJECT_ROOT

KIT_ROOT = PROJECT_ROOT.resolve()
LOADTESTS = KIT_ROOT / "loadtests"
_PYTHON = re.compile(r"python(\d+(\.\d+)?)?$")
# CPython options that take a value, before -m / -c / a script.
_PYTHON_SHORT_VALUE_OPTIONS = {"W", "X", "Q"}
_PYTHON_LONG_VALUE_OPTIONS = {"--check-hash-based-pycs"}
# Where the fleet's Caddy configuration and the kit's Redis live (servers/fleet/runner.py,
# plumbing/redis_server.py): temporary folders with these prefixes, or a run folder with caddy-home/.
FLEET_DIR_PREFIX = "corelab-fleet-"
REDIS_DIR_PREFIX = "corelab-redis-"


def kit_program(proc: psutil.Process) -> str | None:
    """What ``proc`` is, when it is one of the kit's programs ("python -m servers.cluster"), else None."""
    try:
        argv = proc.cmdline()
        name = proc.name()
        cwd = Path(proc.cwd())
    except (psutil.Error, OSError):
        return None
    if name == "redis-server":
        # Redis rewrites its own command line ("redis-server 127.0.0.1:PORT"), but it runs in
        # its --dir: the kit gives it a folder of its own.
        return "redis-server (the kit's)" if cwd.name.startswith(REDIS_DIR_PREFIX) else None
    if not argv:
        return None
    program, args = split_program(argv)
    if program is None:
        return None
    kind, what = program
    if kind == "module" and (what == "servers" or what.startswith("servers.")):
        return f"python -m {what}" if _python_is_kits(argv, proc, cwd) else None
    if kind == "module" and what == "gunicorn" and any(a.startswith("servers.") for a in args):
        return "gunicorn servers..." if _python_is_kits(argv, proc, cwd) else None
    if Path(what).name == "locust" or (kind == "module" and what == "locust"):
        files = locustfiles(args)
        return "locust -f loadtests" if any(_inside(cwd / f, LOADTESTS) for f in files) else None
    if kind == "exe" and Path(what).name == "caddy" and args[:1] == ["run"]:
        config = option_value(args, "--config", "-c")
        return "caddy run (the fleet's)" if config and _fleet_config(cwd / config) else None
    return None


def split_program(argv: Sequence[str]) -> tuple[tuple[str, str] | None, list[str]]:
    """(("module" | "script" | "exe", what), its arguments), parsing a python's options as python does.

    ``None`` for ``python -c CODE`` and a bare interpreter: code given inline is not a program of ours.
    """
    if not _PYTHON.match(Path(argv[0]).name):
        return ("exe", argv[0]), list(argv[1:])
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            i += arg == "--"
            if i >= len(argv) or argv[i] == "-":
                return None, []
            return ("script", argv[i]), list(argv[i + 1 :])
        if arg.startswith("--"):  # --check-hash-based-pycs MODE, or a flag such as --help
            i += 2 if arg in _PYTHON_LONG_VALUE_OPTIONS else 1
            continue
        # A cluster of short options, as in -u, -um servers.x, -Wignore, -X dev.
        for j, flag in enumerate(arg[1:], start=2):
            rest = arg[j:]
            if flag == "c":
                return None, []
            if flag == "m":
                if rest:
                    return ("module", rest), list(argv[i + 1 :])
                return (("module", argv[i + 1]), list(argv[i + 2 :])) if i + 1 < len(argv) else (None, [])
            if flag in _PYTHON_SHORT_VALUE_OPTIONS:
                i += 0 if rest else 1  # the value is the rest of this argument or the next one
                break
        i += 1
    return None, []


def option_value(args: Sequence[str], *names: str) -> str | None:
    """The value of the first of ``names`` in ``args``: ``--opt V``, ``--opt=V`` or ``-oV``."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if name.startswith("--") and arg.startswith(name + "="):
                return arg[len(name) + 1 :]
            if not name.startswith("--") and arg.startswith(name) and len(arg) > len(name):
                return arg[len(name) :]
    return None


def locustfiles(args: Sequence[str]) -> list[str]:
    """The locustfiles a Locust command line names (-f may list several, comma-separated)."""
    value = option_value(args, "--locustfile", "-f")
    return [part for part in (value or "").split(",") if part]


def _python_is_kits(argv: Sequence[str], proc: psutil.Process, cwd: Path) -> bool:
    # `python -m servers.x` imports this kit's servers when run from its folder, or with the
    # interpreter of its virtualenv (where the kit is installed), called by path or activated.
    if _inside(cwd, KIT_ROOT) or ("/" in argv[0] and _inside(cwd / argv[0], KIT_ROOT)):
        return True
    try:
        venv = proc.environ().get("VIRTUAL_ENV")
    except (psutil.Error, OSError):
        return False
    return bool(venv) and _inside(Path(venv), KIT_ROOT)


def _fleet_config(path: Path) -> bool:
    # servers/fleet/caddy.py writes <run folder>/caddy.json beside <run folder>/caddy-home/.
    folder = path.parent
    return path.name == "caddy.json" and (folder.name.startswith(FLEET_DIR_PREFIX) or (folder / "caddy-home").is_dir())


def _inside(path: Path, folder: Path) -> bool:
    # Lexically: no symlinks resolved, nothing read from a disk that may no longer hold the file.
    return Path(os.path.normpath(path)).is_relative_to(folder)
