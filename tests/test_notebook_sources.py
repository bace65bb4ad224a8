"""Each notebook has one source: notebooks/NN-title.py (jupytext, percent format).

The .ipynb beside it is what JupyterLab opens; it is made from the .py (`make notebooks`) and
committed without outputs. These checks fail when the two drift apart, so a change made in
either one without the other cannot land.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
SOURCES = sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]-*.py"))


def cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(cell.cell_type, cell.source.strip()) for cell in nb.cells]


def test_every_notebook_has_its_source_and_every_source_its_notebook() -> None:
    assert SOURCES, "no notebook sources found"
    assert {p.stem for p in SOURCES} == {p.stem for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")}


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_the_notebook_matches_its_source_and_has_no_outputs(source: Path) -> None:
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert cells(notebook) == cells(jupytext.read(source)), f"run `make notebooks` after editing {source.name}"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, f"{source.stem}: commit it without outputs"
