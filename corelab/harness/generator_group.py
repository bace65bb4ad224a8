"""Locust's master and K worker processes, started and waited for as one process group.

``corelab.harness.loadgen`` runs this file with ``python -I corelab/harness/generator_group.py PLAN.json`` when
a run asks for more than one load generator process (``bench(..., generators=K)``). It is a
script, not ``python -m corelab...``: that would import corelab, pandas and matplotlib into a
process that only waits. Standard library only, for the same reason.

Why not ``locust --processes K``: every worker here gets its own output folder (the scenarios'
counters write one file per process when Locust quits; forked workers would overwrite each
other's), the master listens on a loopback port the harness chose, and the command lines are the
ones a class types on several machines (the master on one, workers on others).

The plan (JSON) names each process's argv, log file and extra environment::

    {"master": {"argv": [...], "log": "...", "env": {...}},
     "workers": [{"argv": [...], "log": "...", "env": {...}}, ...],
     "pids": "<where to write the roles' pids>"}

Every process started here stays in this process's group (no new session), so the harness's
``ManagedProcess`` stops all K+1 of them with one signal to the group: on success, on error and
on Ctrl-C; this process waits for them before it exits, so when it has gone they have too. It
exits when the master has exited and the workers have followed it (they quit when the master
tells them); a worker that fails while the master runs stops the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Workers quit when the master says so at the end of the run; give them this long to write their files.
WORKERS_QUIT_S = 10.0
# Stopped by a signal: how long the members get to finish, and the exit code then.
STOP_S = 5.0
STOPPED = 143
# Exit code when a worker died while the master was running (Locust's own codes are 0, 1 and 2).
WORKER_DIED = 3


class Stopped(Exception):
    """SIGTERM or SIGINT: the harness is stopping the group (its signal reached every member)."""


def _stopped(_signum: int, _frame: object) -> None:
    raise Stopped


def _spawn(entry: dict[str, Any]) -> subprocess.Popen[bytes]:
    with open(entry["log"], "wb") as log:
        return subprocess.Popen(
            entry["argv"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **entry.get("env", {})},
        )


def _wait_all(procs: list[subprocess.Popen[bytes]], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass


def run(plan: dict[str, Any]) -> int:
    signal.signal(signal.SIGTERM, _stopped)
    signal.signal(signal.SIGINT, _stopped)
    started: list[subprocess.Popen[bytes]] = []
    try:
        master = _spawn(plan["master"])
        started.append(master)
        for entry in plan["workers"]:
            started.append(_spawn(entry))
        workers = started[1:]
        roles = {"launcher": os.getpid(), "master": master.pid, "workers": [w.pid for w in workers]}
        Path(plan["pids"]).write_text(json.dumps(roles) + "\n")
        while master.poll() is None:
            for i, worker in enumerate(workers, start=1):
                # Code 0 is a worker the master told to quit at the end of the run; anything else failed.
                if worker.poll() not in (None, 0):
                    log = plan["workers"][i - 1]["log"]
                    print(f"generator worker {i} exited with code {worker.returncode} (log: {log})", flush=True)
                    return WORKER_DIED
            time.sleep(0.1)
        _wait_all(workers, WORKERS_QUIT_S)
        return master.returncode
    except Stopped:
        # Every member got the signal too: wait for them here, so that when this process has gone,
        # so have they (the harness waits for this one only).
        _wait_all(started, STOP_S)
        return STOPPED
    finally:
        for proc in started:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    sys.exit(run(json.loads(Path(sys.argv[1]).read_text())))
