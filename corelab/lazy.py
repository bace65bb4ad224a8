"""A package's public names, each imported on first use (PEP 562).

Every room of corelab lists what it offers in one table, name -> the submodule that defines it.
``import corelab`` reads those tables (``__all__``) without importing the submodules, so a process
that needs one light part (a spawned child, ``corelab top``) never loads pandas or matplotlib::

    __all__, __getattr__, __dir__ = lazy_names(__name__, {"plot_cores": "cores"})
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import Any


def lazy_names(
    package: str, sources: dict[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``: ``sources`` maps each public name to
    the module that defines it, relative to the package ("figures") or absolute ("plumbing.redis_server")."""
    names = sorted(sources)
    # A name that is also one of the package's modules would be replaced by that module the moment
    # it is imported (Python sets the attribute): ``from corelab import x`` would then get a module.
    clash = [name for name in names if importlib.util.find_spec(f"{package}.{name}") is not None]
    if clash:
        raise ImportError(f"{package}: public name(s) {', '.join(clash)} are also its modules' names")

    def module_of(name: str) -> str:
        source = sources[name]
        return source if "." in source else f"{package}.{source}"

    def __getattr__(name: str) -> Any:
        if name not in sources:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_of(name)), name)
        vars(sys.modules[package])[name] = value  # the next access is a plain lookup
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return names, __getattr__, __dir__
