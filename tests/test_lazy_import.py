"""``import corelab`` is cheap and every public name still resolves; the one CLI reaches every command."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import corelab
from corelab.cli import COMMANDS, build_parser


def test_import_corelab_loads_neither_pandas_nor_matplotlib() -> None:
    # A fresh interpreter: the test process has long imported both.
    code = (
        "import json, sys, corelab; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('pandas', 'matplotlib', 'locust'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert json.loads(out) == []


@pytest.mark.parametrize("name", corelab.__all__)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(corelab, name)
    assert value is not None
    assert name in dir(corelab)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        corelab.no_such_name  # noqa: B018


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_builds_its_options(name: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args([name, "--help"])  # imports every command's module: a broken one fails here
    assert done.value.code == 0
    assert f"usage: python -m corelab {name}" in capsys.readouterr().out


def test_a_benchmark_runs_through_python_m_corelab() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "corelab", "shared-counter", "--increments", "1000"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "batched" in done.stdout
