"""The import graph of src/qsessions: data and imports flow one way (docs/architecture.md).

Every ``import`` counts, at module level or inside a function, except those under ``if TYPE_CHECKING:``
(they never run).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "qsessions"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, modules: set[str]) -> set[str]:
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for branch in node.orelse:
                visit(branch)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("qsessions"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qsessions"):
            for alias in node.names:  # ``from qsessions import cache`` imports the module qsessions.cache
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in modules else node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [p for p in SOURCE.rglob("*.py") if "migrations" not in p.parts]
    modules = {_module_name(p) for p in paths}
    graph = {}
    for path in paths:
        name = _module_name(path)
        graph[name] = {m for m in _imports(ast.parse(path.read_text()), modules) if m != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := walk(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := walk(node)):
            return cycle
    return None


def test_no_module_imports_one_that_imports_it_back() -> None:
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize(
    ("module", "never"),
    [
        ("qsessions.models", {"qsessions.backends.db", "qsessions.backends.cached_db", "qsessions.middleware"}),
        ("qsessions.cache", {"qsessions.models", "qsessions.backends.db", "qsessions.backends.cached_db"}),
        ("qsessions.client", {"qsessions.backends.db", "qsessions.models", "qsessions.cache"}),
        ("qsessions.devices", {"qsessions.models"}),
        ("qsessions.geo", {"qsessions.models"}),
        ("qsessions.previous", {"qsessions.models", "qsessions.backends.db", "qsessions.backends.cached_db"}),
        # The cache-only engine's index and Redis adapter sit beside cache.py: no model, no store.
        ("qsessions.session_index", {"qsessions.models", "qsessions.backends.cache", "qsessions.cache_sessions"}),
        ("qsessions.redis_connection", {"qsessions.models", "qsessions.cache", "qsessions.backends.cache"}),
    ],
)
def test_lower_layers_never_import_upper_ones(module: str, never: set[str]) -> None:
    assert not import_graph()[module] & never
