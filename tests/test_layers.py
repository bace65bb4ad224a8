"""Layers point one way: corelab measures servers, the cluster knows the app by a factory name only,
and plumbing sits below both. Inside corelab, lessons stand on the harness and the shared figures,
and no lesson imports another; the harness, the live views, the classroom and the shared figures
never import a lesson. No import circle anywhere in corelab, servers or plumbing.

Every import statement is read with ``ast`` (those inside functions and ``if TYPE_CHECKING:`` too),
so a moved import or a comment that mentions a module cannot fool the check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from plumbing.procs import PROJECT_ROOT

LESSONS = "corelab.lessons"
# Rooms of corelab below the lessons: they must not import one.
BELOW_LESSONS = ("corelab.harness", "corelab.figures", "corelab.live", "corelab.classroom")

# (the modules a rule covers, the imports they must not make, why)
RULES = [
    *(
        (room, (LESSONS,), "lessons are built on the harness, the figures' shared parts and claim, not under them")
        for room in BELOW_LESSONS
    ),
    (
        "corelab.lessons",
        ("corelab.live", "corelab.classroom", "corelab.cli"),
        "a lesson measures; it is not a view or a tool",
    ),
    ("servers", ("corelab",), "what is measured does not import what measures it"),
    ("plumbing", ("corelab", "servers"), "plumbing sits below both servers and corelab"),
    (
        "servers.cluster",
        ("servers.app", "servers.state", "servers.chat"),
        "the cluster knows the app only by its factory's name (--app module:factory)",
    ),
]


def module_name(path: Path, root: Path = PROJECT_ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
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


def modules_of(package: str, root: Path = PROJECT_ROOT) -> list[Path]:
    return sorted((root / package.replace(".", "/")).rglob("*.py"))


def imports_of(path: Path, root: Path = PROJECT_ROOT) -> tuple[str, set[str]]:
    name = module_name(path, root)
    return name, imported_modules(path.read_text(), name, is_package=path.name == "__init__.py")


def violations(package: str, forbidden: tuple[str, ...], root: Path = PROJECT_ROOT) -> list[str]:
    found = []
    for path in modules_of(package, root):
        name, imports = imports_of(path, root)
        found += [f"{name} imports {target}" for target in sorted(imports) if any(within(target, f) for f in forbidden)]
    return found


def lesson_of(module: str) -> str | None:
    """``corelab.lessons.chat.claims`` -> ``corelab.lessons.chat``; None outside a lesson package."""
    parts = module.split(".")
    return ".".join(parts[:3]) if len(parts) >= 3 and within(module, LESSONS) else None


def lessons_importing_lessons(root: Path = PROJECT_ROOT) -> list[str]:
    found = []
    for path in modules_of(LESSONS, root):
        name, imports = imports_of(path, root)
        mine = lesson_of(name)
        found += [
            f"{name} imports {target}"
            for target in sorted(imports)
            if lesson_of(target) is not None and lesson_of(target) != mine
        ]
    return found


def import_circles(
    packages: tuple[str, ...] = ("corelab", "servers", "plumbing"), root: Path = PROJECT_ROOT
) -> list[list[str]]:
    """Every set of modules that import each other, directly or round a loop (Tarjan's strongly
    connected components over the import graph; imports inside functions and TYPE_CHECKING count)."""
    graph: dict[str, set[str]] = {}
    for package in packages:
        for path in modules_of(package, root):
            name, imports = imports_of(path, root)
            graph[name] = imports
    graph = {name: {t for t in imports if t in graph and t != name} for name, imports in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                circles.append(sorted([node, *component]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


@pytest.mark.parametrize(("package", "forbidden", "why"), RULES, ids=[rule[0] for rule in RULES])
def test_layers_point_one_way(package: str, forbidden: tuple[str, ...], why: str) -> None:
    assert modules_of(package), f"no modules found under {package}: the check would pass vacuously"
    assert violations(package, forbidden) == [], why


def test_no_lesson_imports_another_lesson() -> None:
    assert len({lesson_of(module_name(p)) for p in modules_of(LESSONS)} - {None}) >= 7, "the lesson packages moved"
    assert lessons_importing_lessons() == []


def test_no_import_circle() -> None:
    assert import_circles() == []


def test_the_rules_fail_on_a_made_up_tree(tmp_path: Path) -> None:
    """Each rule above would catch a module that broke it: a made-up tree with one of each."""
    modules = {
        "corelab/harness/run.py": "from corelab.lessons.chat import claims\n",
        "corelab/live/top.py": "def later():\n    import corelab.lessons.cores.claims\n",
        "corelab/lessons/chat/claims.py": "from corelab.lessons.fleet.store import store\n",
        "corelab/lessons/fleet/store.py": "from corelab.claim import Claim\n",
        "corelab/lessons/fleet/bench.py": "from corelab.lessons.fleet import store\nimport corelab.cli\n",
        "corelab/claim.py": "",
        "corelab/cli.py": "",
        "servers/cluster/primary.py": "from servers.cluster import restart\n",
        "servers/cluster/restart.py": "if TYPE_CHECKING:\n    from servers.cluster.primary import Primary\n",
    }
    for relative, source in modules.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(source)
    assert violations("corelab.harness", (LESSONS,), tmp_path) == [
        "corelab.harness.run imports corelab.lessons.chat",
        "corelab.harness.run imports corelab.lessons.chat.claims",
    ]
    assert violations("corelab.live", (LESSONS,), tmp_path) == ["corelab.live.top imports corelab.lessons.cores.claims"]
    assert violations(LESSONS, ("corelab.cli",), tmp_path) == ["corelab.lessons.fleet.bench imports corelab.cli"]
    assert lessons_importing_lessons(tmp_path) == [
        "corelab.lessons.chat.claims imports corelab.lessons.fleet.store",
        "corelab.lessons.chat.claims imports corelab.lessons.fleet.store.store",
    ]
    assert import_circles(("corelab", "servers"), tmp_path) == [["servers.cluster.primary", "servers.cluster.restart"]]


def test_the_check_sees_every_kind_of_import() -> None:
    source = """
import corelab.harness.results
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
    assert {
        "corelab.harness.results",
        "corelab",
        "servers.chat",
        "servers.state",
        "servers.app",
        "plumbing.procs",
    } <= found
    assert {"servers.cluster.policies.state", "servers.cluster.app"} <= found  # the relative ones
    assert not any(within(name, "servers.lifeline") for name in found)
    # A comment or a string that names a module is not an import.
    assert imported_modules("# import corelab\nx = 'from corelab import bench'\n", "servers.x") == set()
