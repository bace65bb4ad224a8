"""Execute a notebook end to end in QUICK mode, as a student's Jupyter would."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute_notebook(name: str, timeout: int = 300) -> nbformat.NotebookNode:
    """Run every cell of notebooks/<name> with QUICK=1; raises on the first failing cell."""
    path = NOTEBOOKS / name
    nb = nbformat.read(path, as_version=4)
    os.environ["QUICK"] = "1"  # the kernel inherits it
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    try:
        NotebookClient(
            nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
        ).execute()
    finally:
        del os.environ["QUICK"]
    return nb


def figures(nb: nbformat.NotebookNode) -> int:
    """How many images the notebook displayed."""
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if "image/png" in out.get("data", {})
    )


def printed(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook's cells printed."""
    return "".join(
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream"
    )


def claims(nb: nbformat.NotebookNode, name: str | None = None) -> list[dict]:
    """The fields of every claim the notebook displayed (``corelab.claim``), in order; only the
    claims of class ``name`` when given. A test asserts on these numbers, never on printed English."""
    from corelab.claim import MIME

    found = [
        out["data"][MIME]
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if MIME in out.get("data", {})
    ]
    return [c["fields"] for c in found if name is None or c["claim"] == name]


def claim(nb: nbformat.NotebookNode, name: str) -> dict:
    """The fields of the one claim of class ``name`` the notebook displayed."""
    found = claims(nb, name)
    assert len(found) == 1, f"expected one {name} claim displayed, found {len(found)}"
    return found[0]
