"""Make .venv for `make`: the interpreter asked for, a working pip, and the versions the kit was tested with.

    python3.13 install/venv.py --explicit        # make PYTHON=python3.13 ...: .venv on 3.13
    python3 install/venv.py                      # make ...: keep .venv's interpreter, bring it up to date
    python3 install/venv.py --lock               # write install/constraints/cp3XX.txt for this Python
    python3 install/venv.py --find-pythons       # the supported Pythons on this machine, one per line

Standard library only: it runs on the interpreter PYTHON names, before .venv exists. What it
decides, and why:

- ``.venv`` remembers the interpreter that made it (``.venv/.corelab-stamp.json``: the base
  interpreter's path, version, free-threading, and a hash of what was installed from). A
  ``PYTHON`` given to make that is not that interpreter rebuilds it (the old Makefile silently
  kept a 3.11 venv under ``make PYTHON=python3.13``); without ``PYTHON``, ``.venv`` keeps its own.
- A ``.venv`` without pip (``uv venv`` makes them; so does ``python3 -m venv`` where Debian,
  Ubuntu and WSL leave out ensurepip) is repaired with ensurepip, else installed into with uv,
  else explained in one line.
- Packages come from ``requirements.txt`` constrained by ``install/constraints/cpXY[t].txt``,
  the versions this kit was last tested with on that Python (``make lock`` refreshes them), so a
  class installs the same versions on every laptop.
- A free-threaded build (3.13t, 3.14t) installs, from wheels only, every requirement that has a
  wheel for it, and says in one line what it left out: no student needs a C compiler.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements.txt"
CONSTRAINTS = ROOT / "install" / "constraints"
STAMP_NAME = ".corelab-stamp.json"
OLDEST = (3, 11)
NEWEST_TESTED = (3, 14)

# Asked of an interpreter (the target, or a venv's): who it is, as a JSON line.
IDENTITY_CODE = """
import json, os, sys, sysconfig
base = getattr(sys, "_base_executable", sys.executable)
print(json.dumps({
    "python": os.path.realpath(base),
    "version": ".".join(map(str, sys.version_info[:3])),
    "free_threaded": sysconfig.get_config_var("Py_GIL_DISABLED") == 1,
}))
"""


class SetupError(SystemExit):
    """One line for the student, and make stops (exit code 2)."""

    def __init__(self, line: str) -> None:
        print(f"corelab set-up: {line}", file=sys.stderr)
        super().__init__(2)


def say(line: str) -> None:
    print(f"corelab set-up: {line}", flush=True)


def identity(python: str) -> dict[str, object] | None:
    """The interpreter's identity, or None when it does not run (removed, or a broken venv)."""
    try:
        out = subprocess.run([python, "-c", IDENTITY_CODE], capture_output=True, text=True, timeout=60, check=True)
        return json.loads(out.stdout)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def tag(ident: dict[str, object]) -> str:
    """cp311, cp313t: the constraints file's name for this interpreter."""
    major, minor = str(ident["version"]).split(".")[:2]
    return f"cp{major}{minor}" + ("t" if ident["free_threaded"] else "")


def label(ident: dict[str, object]) -> str:
    return f"CPython {ident['version']}{' free-threaded' if ident['free_threaded'] else ''} ({ident['python']})"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def inputs_hash(constraints: Path | None) -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, ROOT / "pyproject.toml", constraints):
        if path is not None and path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def read_stamp(venv: Path) -> dict[str, object]:
    try:
        return json.loads((venv / STAMP_NAME).read_text())
    except (OSError, ValueError):
        return {}


def check_version(ident: dict[str, object]) -> None:
    version = tuple(int(part) for part in str(ident["version"]).split(".")[:2])
    if version < OLDEST:
        raise SetupError(f"corelab needs Python 3.11 or newer, and {label(ident)} is older: set PYTHON=python3.x")
    if version > NEWEST_TESTED:
        say(f"{label(ident)} is newer than any Python this kit was tested on (3.11-3.14); going on")


def has_pip(python: Path) -> bool:
    return subprocess.run([python, "-m", "pip", "--version"], capture_output=True).returncode == 0


def installer_for(venv: Path) -> list[str]:
    """How to install into ``venv``: its pip, pip added by ensurepip, or uv; else one line and stop."""
    python = venv_python(venv)
    if has_pip(python):
        return [str(python), "-m", "pip"]
    say(f"{venv} has no pip (made by `uv venv`, or by a Python without ensurepip): adding it with ensurepip")
    if subprocess.run([python, "-m", "ensurepip", "--upgrade", "--default-pip"], capture_output=True).returncode == 0:
        return [str(python), "-m", "pip"]
    uv = shutil.which("uv")
    if uv:
        say("this Python has no ensurepip; installing with uv instead")
        return [uv, "pip", "--python", str(python)]
    ident = identity(str(python))
    minor = ".".join(str(ident["version"]).split(".")[:2]) if ident else "3"
    raise SetupError(
        f"{venv} has no pip and its Python cannot add one (no ensurepip). Debian, Ubuntu and WSL: "
        f"`sudo apt install python3-venv` (or python{minor}-venv), then `make clean` and make again; or install uv"
    )


def create(python: str, venv: Path) -> None:
    say(f"creating {venv} with {python}")
    made = subprocess.run([python, "-m", "venv", str(venv)], capture_output=True, text=True)
    if made.returncode == 0:
        return
    shutil.rmtree(venv, ignore_errors=True)
    uv = shutil.which("uv")
    if uv and subprocess.run([uv, "venv", "--quiet", "--python", python, str(venv)]).returncode == 0:
        return
    why = (made.stderr.strip().splitlines() or ["python -m venv failed"])[-1]
    raise SetupError(
        f"`{python} -m venv` failed ({why}). Debian, Ubuntu and WSL: `sudo apt install python3-venv`, then make again"
    )


def requirement_lines() -> list[str]:
    """requirements.txt's requirements, one per entry, without comments; option lines kept apart."""
    lines = []
    for raw in REQUIREMENTS.read_text().splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#") and not line.startswith("-"):
            lines.append(line)
    return lines


def requirement_name(line: str) -> str:
    return re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]


def install(pip: list[str], ident: dict[str, object], constraints: Path | None) -> list[str]:
    """Install the kit; returns the requirements left out (free-threaded builds only)."""
    quiet = ["--quiet", "--disable-pip-version-check"] if pip[1:3] == ["-m", "pip"] else ["--quiet"]
    limits = ["-c", str(constraints)] if constraints is not None else []
    if not ident["free_threaded"]:
        run([*pip, "install", *quiet, "-r", str(REQUIREMENTS), *limits, "-e", str(ROOT)])
        return []
    # No marker tells a free-threaded build apart, and some of the kit's dependencies (gevent under
    # Locust, cffi under JupyterLab) have no wheel there: try each requirement from wheels alone.
    left_out = []
    for line in requirement_lines():
        done = subprocess.run([*pip, "install", *quiet, "--only-binary", ":all:", line, *limits], capture_output=True)
        if done.returncode != 0:
            left_out.append(requirement_name(line))
    run([*pip, "install", *quiet, "--no-deps", "-e", str(ROOT)])
    return left_out


def run(argv: list[str]) -> None:
    if subprocess.run(argv).returncode != 0:
        raise SetupError(f"`{' '.join(argv[:4])} ...` failed (its output is above)")


def constraints_for(ident: dict[str, object]) -> Path | None:
    path = CONSTRAINTS / f"{tag(ident)}.txt"
    return path if path.is_file() else None


def set_up(venv: Path, explicit: bool) -> None:
    target = identity(sys.executable)
    assert target is not None  # this very interpreter runs the script
    old = read_stamp(venv)
    current = identity(str(venv_python(venv))) if venv_python(venv).exists() else None
    if venv.exists() and current is None:
        say(f"rebuilding {venv}: its interpreter no longer runs")
        shutil.rmtree(venv)
    elif current is not None and explicit and current["python"] != target["python"]:
        say(f"rebuilding {venv}: it was made by {label(current)}, and PYTHON is {label(target)}")
        shutil.rmtree(venv)
    elif current is not None:
        target = current  # no PYTHON given: .venv keeps the interpreter it has
    check_version(target)
    constraints = constraints_for(target)
    wanted = {"python": target["python"], "version": target["version"], "inputs": inputs_hash(constraints)}
    if venv_python(venv).exists() and all(old.get(key) == value for key, value in wanted.items()):
        return  # up to date: the common case, in a fraction of a second
    if not venv_python(venv).exists():
        create(str(target["python"]), venv)
    pip = installer_for(venv)
    if constraints is None:
        say(f"no install/constraints/{tag(target)}.txt: installing the newest versions (make lock writes one)")
    else:
        say(f"installing the versions tested on {tag(target)} (install/constraints/{constraints.name})")
    left_out = install(pip, target, constraints)
    if left_out:
        say(
            f"{label(target)}: left out {', '.join(left_out)} (no wheel for a free-threaded build; they would need a "
            "C compiler). The in-process notebooks (05-07) run here; for Locust and JupyterLab use a GIL build: "
            f"make PYTHON=python{str(target['version']).rsplit('.', 1)[0]}"
        )
    (venv / STAMP_NAME).write_text(
        json.dumps({**wanted, "free_threaded": target["free_threaded"], "left_out": left_out})
    )


def lock() -> Path:
    """Install the kit unconstrained into a scratch venv on this Python and freeze what came."""
    ident = identity(sys.executable)
    assert ident is not None
    check_version(ident)
    with tempfile.TemporaryDirectory(prefix="corelab-lock-") as scratch:
        venv = Path(scratch) / "venv"
        create(sys.executable, venv)
        left_out = install(installer_for(venv), ident, None)
        frozen = subprocess.run(
            [venv_python(venv), "-m", "pip", "freeze", "--exclude-editable"], capture_output=True, text=True, check=True
        ).stdout
    CONSTRAINTS.mkdir(parents=True, exist_ok=True)
    path = CONSTRAINTS / f"{tag(ident)}.txt"
    note = f"# left out on this build: {', '.join(left_out)}\n" if left_out else ""
    path.write_text(
        f"# The versions corelab was tested with on {tag(ident)} ({sysconfig.get_platform()}), from `make lock`.\n"
        f"# make installs requirements.txt constrained by this file.\n{note}{frozen}"
    )
    say(f"wrote {path.relative_to(ROOT)} ({len(frozen.splitlines())} packages)")
    return path


def find_pythons() -> list[str]:
    """One interpreter per supported version found here: PATH's python3.X(t), then pyenv's."""
    found: dict[str, str] = {}
    candidates = [shutil.which(f"python3.{minor}{t}") for minor in range(11, 16) for t in ("", "t")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv_root.is_dir():
        candidates += [str(p / "bin" / "python3") for p in sorted(pyenv_root.iterdir()) if (p / "bin/python3").exists()]
    for python in filter(None, candidates):
        ident = identity(python)
        if ident is None or tuple(map(int, str(ident["version"]).split(".")[:2])) < OLDEST:
            continue
        found.setdefault(tag(ident), python)
    return list(found.values())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--explicit", action="store_true", help="PYTHON was given: .venv must be made by it")
    parser.add_argument("--lock", action="store_true", help="write install/constraints/<tag>.txt for this Python")
    parser.add_argument("--find-pythons", action="store_true", help="list the supported Pythons found here")
    args = parser.parse_args(argv)
    if args.find_pythons:
        print("\n".join(find_pythons()))
    elif args.lock:
        lock()
    else:
        set_up(args.venv.resolve(), args.explicit)


if __name__ == "__main__":
    main()
