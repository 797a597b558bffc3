"""Layers point one way and modules form no import cycle (DESIGN.md, "The shape").

Read from the source (the `ast` of every module under bot/ and adapters/), so imports inside
functions and `if TYPE_CHECKING:` blocks count as much as those at the top: a cycle that
only type checking sees still ties the layers together. Each test reports every offence.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "adapters")
# Library layers below the router: they take plain values, never the router's world.
LOWER = ("bot.hub", "bot.inference", "bot.jobs", "bot.activities", "bot.store")
UPPER = ("bot.router", "bot.services", "bot.app")


def module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = module_files()


def imports_of(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """(imported project module, line) for every import statement anywhere in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield from _known(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from bot.hub import client` imports the module bot.hub.client.
                submodule = f"{base}.{alias.name}"
                yield from _known(submodule if submodule in MODULES else base, node.lineno)


def _known(module: str, line: int) -> Iterator[tuple[str, int]]:
    if module in MODULES:
        yield module, line


def graph() -> dict[str, dict[str, int]]:
    edges: dict[str, dict[str, int]] = {}
    for name, path in MODULES.items():
        targets = edges.setdefault(name, {})
        for target, line in imports_of(name, path):
            for module in (*_packages_run_first(name, target), target):
                if module != name:
                    targets.setdefault(module, line)
    return edges


def _packages_run_first(importer: str, target: str) -> list[str]:
    """Importing `a.b.c` runs `a/b/__init__.py` first, unless the importer lives in `a.b`
    already (then that package is being initialised, not started): a cycle through a
    package's `__init__` is as real as one through the module itself."""
    parts = target.split(".")
    packages = [".".join(parts[:i]) for i in range(1, len(parts))]
    return [
        package for package in packages if package in MODULES and not _within(importer, (package,))
    ]


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_lower_layers_never_import_the_router_services_or_app() -> None:
    offences = [
        f"{MODULES[source].relative_to(ROOT)}:{line} imports {target}"
        for source, targets in graph().items()
        if _within(source, LOWER)
        for target, line in targets.items()
        if _within(target, UPPER)
    ]
    assert not offences, "imports against the layers:\n" + "\n".join(sorted(offences))


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    edges = graph()
    report = []
    for component in cycles(edges):
        members = set(component)
        links = [
            f"  {MODULES[a].relative_to(ROOT)}:{line} imports {b}"
            for a in component
            for b, line in edges[a].items()
            if b in members
        ]
        report.append(f"cycle among {', '.join(component)}:\n" + "\n".join(links))
    assert not report, "import cycles:\n" + "\n".join(report)


def test_the_walk_sees_imports_in_functions_and_type_checking_blocks() -> None:
    edges = graph()
    # bot.router imports bot.services only for type checking.
    assert "bot.services" in edges["bot.router"]
    # The walk finds the modules: the cycle finder on a known cycle.
    assert cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [["a", "b", "c"]]
