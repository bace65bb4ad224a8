"""The figures from 1 to 64 cores: bounded in size, titles summed up, every worker shown (idle ones
as zero bars), from synthetic samples of a machine this one is not."""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.image import imread

from corelab.figures import plot_core_heatmap, plot_requests_per_worker, plot_throughput
from corelab.figures.cores import MAX_TICKS
from corelab.harness.sampler import Sampler
from tests.synthetic_runs import synthetic_runs


def saved_inches(fig: plt.Figure, path: Path, dpi: int = 100) -> tuple[float, float]:
    """The figure's size as saved with a tight box, in inches (what a notebook shows)."""
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    height, width = imread(path).shape[:2]
    return width / dpi, height / dpi


def heatmaps(fig: plt.Figure) -> list[plt.Axes]:
    """The per-core heatmaps (axes that hold an image and name cores), not the strips or the colour bar."""
    return [ax for ax in fig.axes if ax.images and ax.get_title(loc="left")]


def test_the_heatmap_of_two_runs_on_64_cores_stays_under_12_inches(tmp_path: Path) -> None:
    fig = plot_core_heatmap(synthetic_runs(64, 64, idle=8))
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    ticks = [len(ax.get_yticklabels()) for ax in heatmaps(fig)]
    width, height = saved_inches(fig, tmp_path / "heat.png")
    assert height <= 12.5 and width <= 12, (width, height)
    assert all(len(t) < 160 for t in titles), titles  # summed up, not 64 cores listed
    assert "8 idle" in titles[1] and "64 cores" in titles[1], titles
    assert all(n <= MAX_TICKS for n in ticks), ticks


def test_twenty_runs_on_64_cores_still_save(tmp_path: Path) -> None:
    runs = synthetic_runs(64, 64)
    frames: dict[str, list[pd.DataFrame]] = {"summary": [], "cores": [], "procs": [], "history": []}
    for k in range(10):  # 10 copies of 2 runs: 20 panels
        for name in frames:
            table = getattr(runs, name).copy()
            table["label"] = table["label"] + f" #{k}"
            table["run"] = table["run"] + f"-{k}"
            frames[name].append(table)
    for name, parts in frames.items():
        setattr(runs, name, pd.concat(parts, ignore_index=True))
    assert len(runs.summary) == 20
    _, height = saved_inches(plot_core_heatmap(runs), tmp_path / "heat20.png", dpi=80)
    assert height * 80 < 65_536


def test_two_cores_are_still_named_one_by_one(tmp_path: Path) -> None:
    fig = plot_core_heatmap(synthetic_runs(2, 2))
    title = heatmaps(fig)[1].get_title(loc="left")
    assert "core 0" in title and "core 1" in title, title
    assert [t.get_text() for t in heatmaps(fig)[0].get_yticklabels()] == ["core 0", "core 1"]
    plt.close(fig)


def test_every_worker_has_a_bar_idle_ones_at_zero(tmp_path: Path) -> None:
    fig = plot_requests_per_worker(synthetic_runs(64, 64, idle=8))
    cluster = fig.axes[1]
    heights = [bar.get_height() for bar in cluster.patches]
    assert len(heights) == 64 and sum(h == 0 for h in heights) == 8
    assert "8 idle" in fig.get_suptitle()
    width, height = saved_inches(fig, tmp_path / "workers.png")
    assert width <= 17 and height <= 4.5, (width, height)


def test_the_throughput_figure_draws_the_plans_limit(tmp_path: Path) -> None:
    fig = plot_throughput(synthetic_runs(16, 16))
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any(label.startswith("the limit for 16 workers here") for label in labels), labels
    plt.close(fig)


@pytest.mark.parametrize("cores", [[0], [1]])
def test_the_sampler_records_only_the_cores_it_is_given(cores: list[int]) -> None:
    sampler = Sampler(cores=cores, interval=0.05).start()
    time.sleep(0.3)
    samples = sampler.stop()
    assert set(samples.cores["core"]) == set(cores)
