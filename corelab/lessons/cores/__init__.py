"""Notebooks 01, 02 and 08: one process uses one core, a fork cluster uses every core, async is not
parallel. Their measurement is the harness's ``bench``; their claims are in ``claims``."""

from __future__ import annotations

from corelab.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    __name__, {"one_core_claim": "claims", "every_core_claim": "claims", "not_parallel_claim": "claims"}
)
