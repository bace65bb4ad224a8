"""QUICK=1 shortens every measurement so the tests can execute every notebook end to end."""

from __future__ import annotations

import os
from typing import TypeVar

T = TypeVar("T")

QUICK = os.environ.get("QUICK", "") not in ("", "0", "false", "no")


def pick(normal: T, quick: T) -> T:
    """``quick`` when QUICK=1 is set, ``normal`` otherwise."""
    return quick if QUICK else normal
