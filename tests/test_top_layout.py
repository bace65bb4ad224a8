"""`corelab top` fits the terminal it is drawn in, from 2 to 64 cores: drawn from synthetic frames
into a recorded rich console of 80 x 24, the size of a default terminal."""

from __future__ import annotations

import random
import time

import pytest
from rich.console import Console

from corelab.live.topstate import Frame, ProcRow
from corelab.live.topview import render


def frame(cores: int, workers: int, locust_pct: float = 85.0) -> Frame:
    rng = random.Random(cores)
    busy = [min(100.0, 90 + rng.random() * 10) for _ in range(cores)]
    rows = [ProcRow("primary", 1000, None, 1.0, 0, 40 * 2**20)]
    rows += [
        ProcRow("worker", 2000 + k, 1000, busy[k % cores], k % cores, 45 * 2**20, 100 * k, 95.0, "serving")
        for k in range(workers)
    ]
    return Frame(
        title="servers.cluster --workers N",
        cores=busy,
        history=[[rng.random() * 100 for _ in range(20)] for _ in range(cores)],
        rows=rows,
        total_rps=95.0 * workers,
        admin={"policy": "rr", "workers": [{}] * workers, "target_workers": workers, "restarts": 0},
        admin_error=None,
        locust=(1, locust_pct),
        wall=time.time(),
    )


def drawn(f: Frame, width: int = 80, height: int = 24) -> list[str]:
    console = Console(width=width, height=height, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(render(f, "port 8000", 4.0, width, height))
    return console.export_text().rstrip("\n").split("\n")


@pytest.mark.parametrize(("cores", "workers"), [(2, 2), (8, 8), (16, 16), (64, 64)])
def test_a_frame_fits_80_by_24_with_its_warning_on_screen(cores: int, workers: int) -> None:
    lines = drawn(frame(cores, workers))
    assert len(lines) <= 24, "\n".join(lines)
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert any("over 80%: the run measures Locust, not the server" in line for line in lines), "\n".join(lines)
    assert any(line.startswith("corelab top") for line in lines)


def test_many_cores_become_a_grid_and_many_workers_a_summary() -> None:
    lines = drawn(frame(64, 64))
    assert any(line.startswith("cores: 64, mean") for line in lines), "\n".join(lines)
    assert any(line.startswith("worker x64:") for line in lines), "\n".join(lines)
    assert not any(line.startswith("cpu63") for line in lines)


def test_few_cores_keep_a_line_each_and_every_process() -> None:
    lines = drawn(frame(2, 2))
    assert sum(line.startswith("cpu") for line in lines) == 2
    assert sum(line.startswith("worker ") and "x2" not in line for line in lines) == 2


def test_a_tall_terminal_gets_a_line_per_core() -> None:
    lines = drawn(frame(16, 16), width=120, height=60)
    assert sum(line.startswith("cpu") for line in lines) == 16 and len(lines) <= 60
