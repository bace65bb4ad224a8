"""``python -m corelab lab list`` and ``python -m corelab lab check N [--solution | --code DIR]``.

The check of lab N is ``labs/NN-name/check.py``; it runs the starter in that folder (what a
student edits), the reference solution in ``labs/solutions/NN-name/`` with ``--solution``, or
any copy of the lab's files with ``--code`` (a student's hand-in). Exit code 0 only on a pass.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

from corelab.classroom.labs import Lab, all_labs, find_lab
from corelab.classroom.labs.harness import LabRun, StudentError

EXIT_PASS, EXIT_FAIL = 0, 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="lab_command", required=True)
    actions.add_parser("list", help="the labs, what each teaches and how long it takes")
    check = actions.add_parser("check", help="run lab N's check on the starter (or --solution, or --code DIR)")
    check.add_argument("number", help="the lab: 1 or 01")
    which = check.add_mutually_exclusive_group()
    which.add_argument("--solution", action="store_true", help="check the reference solution (labs/solutions/)")
    which.add_argument("--code", type=Path, help="check this folder instead of the starter (a copy of the lab's files)")


def run_lab(args: argparse.Namespace) -> int:
    if args.lab_command == "list":
        return list_labs()
    return run_check(args.number, solution=args.solution, code=args.code)


def list_labs() -> int:
    for lab in all_labs():
        print(f"{lab.number:02d}  {lab.title:<32} labs/{lab.name}/  (make check LAB={lab.number:02d})")
    return 0


def run_check(number: str, *, solution: bool = False, code: Path | None = None) -> int:
    lab = find_lab(number)
    target = code if code is not None else (lab.solution if solution else lab.folder)
    if not target.is_dir():
        raise ValueError(f"{target} is not a folder with the lab's code")
    check = _load_check(lab)
    started = time.monotonic()
    print(f"lab {lab.number:02d} ({lab.title}): checking {_shown(target)}", flush=True)
    with tempfile.TemporaryDirectory(prefix=f"corelab-lab{lab.number:02d}-") as tmp:
        run = LabRun(lab, target.resolve(), Path(tmp))
        try:
            check.run(run)
        except StudentError as exc:
            run.verdict("start", False, str(exc))
        finally:
            run.close()
    took = time.monotonic() - started
    if run.passed:
        print(f"PASS: lab {lab.number:02d}, every check passed ({took:.0f} s)")
        return EXIT_PASS
    failed = sum(not v.ok for v in run.verdicts)
    print(f"FAIL: lab {lab.number:02d}, {failed} of {len(run.verdicts)} checks failed ({took:.0f} s)")
    return EXIT_FAIL


def _load_check(lab: Lab) -> ModuleType:
    """The lab's check.py, loaded from the kit's lab folder by its path (lab folders are not packages)."""
    spec = importlib.util.spec_from_file_location(f"corelab_lab_check_{lab.number:02d}", lab.folder / "check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the check look their module up there
    spec.loader.exec_module(module)
    return module


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
