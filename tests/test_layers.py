"""Layers point one way: corelab measures servers, the cluster knows the app by a factory name only,
and plumbing sits below both.

Every import statement is read with ``ast`` (those inside functions and ``if TYPE_CHECKING:`` too),
so a moved import or a comment that mentions a module cannot fool the check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from plumbing.procs import PROJECT_ROOT

# (the modules a rule covers, the imports they must not make, why)
RULES = [
    ("servers", ("corelab",), "what is measured does not import what measures it"),
    ("plumbing", ("corelab", "servers"), "plumbing sits below both servers and corelab"),
    (
        "servers.cluster",
        ("servers.app", "servers.state", "servers.chat"),
        "the cluster knows the app only by its factory's name (--app module:factory)",
    ),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in ``source`` names, relative ones resolved."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.add(target)
            # `from servers import app` imports the module servers.app.
            found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def modules_of(package: str) -> list[Path]:
    return sorted((PROJECT_ROOT / package.replace(".", "/")).rglob("*.py"))


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in modules_of(package):
        name = module_name(path)
        imports = imported_modules(path.read_text(), name, is_package=path.name == "__init__.py")
        found += [f"{name} imports {target}" for target in sorted(imports) if any(within(target, f) for f in forbidden)]
    return found


@pytest.mark.parametrize(("package", "forbidden", "why"), RULES, ids=[rule[0] for rule in RULES])
def test_layers_point_one_way(package: str, forbidden: tuple[str, ...], why: str) -> None:
    assert modules_of(package), f"no modules found under {package}: the check would pass vacuously"
    assert violations(package, forbidden) == [], why


def test_the_check_sees_every_kind_of_import() -> None:
    source = """
import corelab.results
from corelab import bench
from servers import chat
from . import state
from .. import app as the_app
from servers.state import attach_state as attach

def late():
    import servers.app

if TYPE_CHECKING:
    from plumbing.procs import ManagedProcess
"""
    found = imported_modules(source, "servers.cluster.policies.sticky")
    assert {"corelab.results", "corelab", "servers.chat", "servers.state", "servers.app", "plumbing.procs"} <= found
    assert {"servers.cluster.policies.state", "servers.cluster.app"} <= found  # the relative ones
    assert not any(within(name, "servers.lifeline") for name in found)
    # A comment or a string that names a module is not an import.
    assert imported_modules("# import corelab\nx = 'from corelab import bench'\n", "servers.x") == set()
