"""The same lessons with the articles' Node code beside the Python port (notebook 13, and
``python -m corelab node-vs-python``): each section runs a lesson's own measurement with the Node
variants (servers/node) as more targets, under the same Locust scenario, sampler and figures.

- ``measure``: the six sections (throughput, bursts, primary, restarts, blocked, chat), each one
  lesson's measurement with Node beside Python, and the command that runs them all;
- ``beside``: each section's numbers side by side (``Row``, ``Beside``), and which runtime did better;
- ``claims``: every section in one table (``NodeVsPython``) and the articles' measurable claims
  checked against its rows.

This package sits above the lessons, as corelab.cli does: it composes them, and no lesson imports it.
"""

from __future__ import annotations

from corelab.node_vs_python.beside import (
    Beside,
    Row,
    beside_blocked,
    beside_bursts,
    beside_chat,
    beside_primary,
    beside_restarts,
    beside_throughput,
)
from corelab.node_vs_python.claims import ArticleClaim, NodeVsPython, comparison
from corelab.node_vs_python.measure import blocked, bursts, chat, primary, restarts, runtime_line, throughput

__all__ = [
    "ArticleClaim", "Beside", "NodeVsPython", "Row", "beside_blocked", "beside_bursts", "beside_chat",
    "beside_primary", "beside_restarts", "beside_throughput", "blocked", "bursts", "chat", "comparison",
    "primary", "restarts", "runtime_line", "throughput",
]  # fmt: skip
