"""corelab: measure how a Python web server uses the cores of a machine.

Rooms, each a package: ``harness`` (one run: start a variant, load it with Locust, sample the cores,
store; read runs back as tables), ``figures`` (what several lessons' figures share), ``lessons``
(one package per lesson: its measurement, claims, figures and benchmark), ``live`` (``corelab top``
and the live notebook heatmap), ``classroom`` (doctor, clean, the labs) and the one command line
(``python -m corelab``).

The functions a notebook needs are importable from here::

    from corelab import bench, plot_cores, plot_throughput

``import corelab`` itself is cheap: each package lists its public names (``__all__``) and imports
the module behind a name on first use (PEP 562, ``corelab.lazy``), so a process that needs only a
light part (a spawned child, ``corelab top``) never loads pandas or matplotlib.
"""

from __future__ import annotations

import importlib

from corelab.lazy import lazy_names
from corelab.lessons import PACKAGES as _LESSONS


def _sources() -> dict[str, str]:
    """Public name -> the package that offers it, read from each package's ``__all__``."""
    sources: dict[str, str] = {}
    for package in ("corelab.harness", "corelab.figures", *(f"corelab.lessons.{name}" for name in _LESSONS)):
        for name in importlib.import_module(package).__all__:
            if name in sources:
                raise ImportError(f"{name!r} is offered by both {sources[name]} and {package}")
            sources[name] = package
    return sources


__all__, __getattr__, __dir__ = lazy_names(__name__, _sources())
