"""What several lessons' figures share: the per-core heatmap, throughput, requests per worker, and
the colours, labels and limits they draw with (``common``). A lesson's own figures live in its
package (``corelab/lessons/<name>/figures.py``); this package never imports a lesson.

Each figure is imported on first use, so ``import corelab.figures`` loads no matplotlib.
"""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__,
    {
        "plot_core_heatmap": "cores",
        "plot_cores": "cores",
        "plot_requests_per_worker": "throughput",
        "plot_throughput": "throughput",
        "plot_throughput_by_variant": "throughput",
    },
)
