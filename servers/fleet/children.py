"""The fleet's child processes: plumbing.procs.ManagedProcess with the fleet's defaults.

Each child is in its own process group (SIGTERM to the whole group on stop, SIGKILL to whatever
lingers), tagged as the kit's, and killed if the fleet dies (the kernel's PR_SET_PDEATHSIG on Linux, a
lifeline pipe's watcher on macOS: plumbing/lifeline.py), so that a SIGKILLed fleet takes its hosts,
its Redis and its load balancer with it. Optionally (Linux) it is pinned to some cores before it
execs, so a host's primary and every worker it forks stay on them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from plumbing.procs import ManagedProcess


class Child(ManagedProcess):
    """One process the fleet started, named for its messages; its output goes to ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: dict[str, str] | None = None,
        cores: Sequence[int] | None = None,
        grace: float = 5.0,
    ) -> None:
        # cwd=None: the fleet's children run where the fleet was started, as its user expects.
        super().__init__(
            argv, name=name, log_path=log_path, env=env, cwd=None, grace=grace, die_with_parent=True, cores=cores
        )
