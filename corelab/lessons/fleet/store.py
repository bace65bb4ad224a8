"""Where the fleet's measurements are kept: one JSON file per measurement in the lesson's folder.

A folder is the ``out`` a measurement was given, or a new ``results/fleet-<time>``; each
measurement writes its result objects there as ``<name>.json`` (a list of their dataclass
fields), read back by ``corelab.lessons.fleet.bench.load_fleet``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from corelab.harness.results import new_results_dir


def fleet_folder(out: str | Path | None) -> Path:
    """``out``, or a new results/fleet-<time>; made if missing."""
    folder = Path(out) if out is not None else new_results_dir("fleet")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def store(folder: Path, name: str, result: Any) -> None:
    """``<folder>/<name>.json``: the dataclass fields of ``result`` (one object or a list of them), as a list."""
    items = result if isinstance(result, list) else [result]
    (folder / f"{name}.json").write_text(json.dumps([asdict(r) for r in items], indent=2) + "\n")


def stored(folder: Path, name: str) -> list[dict[str, Any]]:
    """What ``store`` wrote under ``name`` (empty when that measurement was not run)."""
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else []
