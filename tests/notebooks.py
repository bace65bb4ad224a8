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
