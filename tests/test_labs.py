"""The labs' checks, for real: each fails on its starter and passes on its solution, and bad
input (an unknown lab, code that does not import, a server that never answers, one that exits
at once, one that leaves a process behind) gets one line, a non-zero exit, and nothing left
running (the autouse leak check in conftest.py fails any test that leaves a process).

Every check runs through ``python -m corelab lab check N [--solution | --code DIR]`` in a
process of its own, as a student runs it. The slowest file of the suite: about 4 minutes.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from corelab.classroom.labs import all_labs
from plumbing.procs import PROJECT_ROOT, ManagedProcess

LAB_TIMEOUT_S = 150
# What each lab's starter must fail (at least these verdicts), by the verdict's name.
STARTER_FAILS = {
    1: {"throughput", "respawn", "no orphans"},
    2: {"/health under CPU load"},
    3: {"rate limit", "visit counter"},
    4: {"handshakes", "delivery"},
    5: {"no request lost"},
}


@dataclass
class Checked:
    code: int
    output: str

    def verdicts(self, word: str) -> set[str]:
        return set(re.findall(rf"^  {word}  (.+?): ", self.output, flags=re.MULTILINE))

    @property
    def last_line(self) -> str:
        return self.output.strip().splitlines()[-1]


def lab_check(tmp_path: Path, *args: str) -> Checked:
    log = tmp_path / f"check-{'-'.join(a.strip('-') for a in args if '/' not in a)}.log"
    with ManagedProcess([sys.executable, "-m", "corelab", "lab", "check", *args], log_path=log) as check:
        code = check.wait(LAB_TIMEOUT_S)
    return Checked(code, log.read_text())


def test_every_lab_has_its_parts() -> None:
    labs = all_labs()
    assert [lab.number for lab in labs] == [1, 2, 3, 4, 5]
    for lab in labs:
        for name in ("README.md", "RUNSHEET.md", "check.py"):
            assert (lab.folder / name).is_file(), f"{lab.name} has no {name}"
        assert lab.solution.is_dir(), f"{lab.name} has no solution in labs/solutions/"
        # The solution has the student's files, and nothing of the check.
        starters = {p.name for p in lab.folder.glob("*.py")} - {"check.py"}
        assert starters == {p.name for p in lab.solution.glob("*.py")}


@pytest.mark.parametrize("number", [1, 2, 3, 4, 5])
def test_check_fails_on_the_starter(tmp_path: Path, number: int) -> None:
    result = lab_check(tmp_path, str(number))
    assert result.code == 1, result.output
    assert result.last_line.startswith(f"FAIL: lab {number:02d}"), result.output
    assert STARTER_FAILS[number] <= result.verdicts("FAIL"), result.output


@pytest.mark.parametrize("number", ["01", "2", "3", "04", "5"])
def test_check_passes_on_the_solution(tmp_path: Path, number: str) -> None:
    result = lab_check(tmp_path, number, "--solution")
    assert result.code == 0, result.output
    assert result.last_line.startswith(f"PASS: lab {int(number):02d}"), result.output
    assert not result.verdicts("FAIL"), result.output


def test_make_check_needs_a_known_lab() -> None:
    for args, says in ((["LAB=99"], "there is no lab 99"), ([], "make check needs a lab")):
        done = subprocess.run(
            ["make", "--no-print-directory", "check", *args],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        # make adds its own "make: *** ... Error 2" ("make[1]: ***" when this runs under make test).
        explanation = [line for line in done.stderr.splitlines() if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
        assert len(explanation) == 1 and says in explanation[0], done.stderr


def _student_copy(tmp_path: Path, number: int, replace: dict[str, str]) -> Path:
    """A copy of lab ``number``'s starter with some files replaced: a student's broken hand-in."""
    lab = next(lab for lab in all_labs() if lab.number == number)
    code = tmp_path / "hand-in"
    shutil.copytree(lab.folder, code, ignore=shutil.ignore_patterns("check.py", "*.md", "__pycache__"))
    for name, text in replace.items():
        (code / name).write_text(text)
    return code


BAD_PRIMARIES = {
    "does not import": ("import worker\nimport no_such_module_in_this_kit\n", "ModuleNotFoundError"),
    "exits at once": ("import sys\nsys.exit(3)\n", "exited at once (exit code 3)"),
    # Listens (so connections are accepted by the kernel) but never serves one.
    "never answers": (
        "import sys, time\nfrom servers.listen import open_listener\n"
        "sock = open_listener('127.0.0.1', int(sys.argv[sys.argv.index('--port') + 1]))\ntime.sleep(300)\n",
        "did not answer",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PRIMARIES))
def test_a_broken_hand_in_gets_one_line(tmp_path: Path, case: str) -> None:
    source, says = BAD_PRIMARIES[case]
    code = _student_copy(tmp_path, 1, {"primary.py": source})
    result = lab_check(tmp_path, "1", "--code", str(code))
    assert result.code == 1, result.output
    failures = [line for line in result.output.splitlines() if line.startswith("  FAIL")]
    assert len(failures) == 1 and says in failures[0], result.output


LEAKY_SERVER = """
import subprocess, runpy, sys
# A child in a session of its own: out of the server's process group, and it outlives the server.
subprocess.Popen(["sleep", "300"], start_new_session=True)
runpy.run_path("starter_server.py", run_name="__main__")
"""


def test_a_server_that_leaves_a_process_behind_fails(tmp_path: Path) -> None:
    lab = next(lab for lab in all_labs() if lab.number == 2)
    code = _student_copy(tmp_path, 2, {"server.py": LEAKY_SERVER})
    shutil.copy(lab.folder / "server.py", code / "starter_server.py")
    result = lab_check(tmp_path, "2", "--code", str(code))
    assert result.code == 1, result.output
    assert "your server leaves nothing behind" in result.verdicts("FAIL"), result.output
    assert "sleep 300" in result.output


def test_unknown_code_folder_is_one_line(tmp_path: Path) -> None:
    result = lab_check(tmp_path, "1", "--code", str(tmp_path / "nowhere"))
    assert result.code == 2
    assert result.output.strip().count("\n") == 0 and "is not a folder" in result.output


FORKSERVER_POOL = """
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import solution_server

if __name__ == "__main__":  # a forkserver or spawned child imports this file too
    # Python 3.14's default start method on Linux, chosen here on purpose: a student's bare pool
    # there has one more child, multiprocessing's forkserver helper, with the workers under it.
    multiprocessing.set_start_method("forkserver")
    solution_server.ProcessPoolExecutor = lambda **_: ProcessPoolExecutor()
    solution_server.main()
"""


def test_lab_2_passes_with_a_bare_pool_on_forkserver(tmp_path: Path) -> None:
    # The forkserver helper is neither a stray (it ends with the server) nor a pool worker.
    lab = next(lab for lab in all_labs() if lab.number == 2)
    code = _student_copy(tmp_path, 2, {"server.py": FORKSERVER_POOL})
    shutil.copy(lab.solution / "server.py", code / "solution_server.py")
    result = lab_check(tmp_path, "2", "--code", str(code))
    assert result.code == 0, result.output
    assert not result.verdicts("FAIL") and result.last_line.startswith("PASS: lab 02"), result.output
