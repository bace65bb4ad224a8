"""The labs: exercises a student edits and a check that runs their code for real.

Each lab is a folder ``labs/NN-name/``: a README, starter code, and ``check.py``, whose
``run(lab)`` measures the code with the harness (harness.py). Reference solutions live apart,
in ``labs/solutions/NN-name/``, so the starters can be handed out alone.

``python -m corelab lab list`` shows them; ``python -m corelab lab check N [--solution]`` runs
one check (runner.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from plumbing.procs import PROJECT_ROOT

LABS_DIR = PROJECT_ROOT / "labs"
SOLUTIONS_DIR = LABS_DIR / "solutions"
_FOLDER = re.compile(r"(\d\d)-[a-z0-9-]+")


@dataclass(frozen=True)
class Lab:
    number: int
    folder: Path

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def solution(self) -> Path:
        return SOLUTIONS_DIR / self.name

    @property
    def title(self) -> str:
        """The README's first heading, without its "Lab N:" prefix."""
        readme = self.folder / "README.md"
        first = readme.read_text().splitlines()[0] if readme.is_file() else self.name
        return first.lstrip("# ").split(":", 1)[-1].strip()


def all_labs() -> list[Lab]:
    labs = []
    for folder in sorted(LABS_DIR.iterdir()):
        match = _FOLDER.fullmatch(folder.name)
        if match and (folder / "check.py").is_file():
            labs.append(Lab(int(match.group(1)), folder))
    return labs


def find_lab(text: str) -> Lab:
    """Lab ``1`` or ``01``; a ValueError of one line naming the labs there are otherwise."""
    labs = all_labs()
    known = ", ".join(f"{lab.number:02d}" for lab in labs)
    if not text.strip().isdigit():
        raise ValueError(f"{text!r} is not a lab number: the labs are {known}")
    for lab in labs:
        if lab.number == int(text):
            return lab
    raise ValueError(f"there is no lab {text}: the labs are {known} (python -m corelab lab list)")
