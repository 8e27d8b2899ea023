"""No import cycle in the package: the module graph, read from the source, is acyclic.

Module-level imports count, including those under ``if TYPE_CHECKING:`` (a cycle there is a
cycle in the design, even if Python never runs it); imports inside functions do not (they are how
a module defers a heavy or optional dependency). Importing ``a.b.c`` also imports ``a`` and
``a.b``, except the importer's own parent packages, which are already being imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mcp_channels

SOURCE = Path(mcp_channels.__file__).resolve().parent


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in SOURCE.rglob("*.py"):
        parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []
    for statement in tree.body:
        if isinstance(statement, ast.Import | ast.ImportFrom):
            found.append(statement)
        elif isinstance(statement, ast.If | ast.Try):  # if TYPE_CHECKING:, try/except ImportError
            found.extend(node for node in ast.walk(statement) if isinstance(node, ast.Import | ast.ImportFrom))
    return found


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = module.split(".") if is_package else module.split(".")[:-1]
    if node.level:
        base = base[: len(base) - node.level + 1]
        target = ".".join([*base, *([node.module] if node.module else [])])
    else:
        target = node.module or ""
    return [target, *(f"{target}.{alias.name}" for alias in node.names)]


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for module, (path, is_package) in modules.items():
        edges: set[str] = set()
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(module, is_package, node):
                parts = target.split(".")
                for end in range(1, len(parts) + 1):
                    imported = ".".join(parts[:end])
                    if imported in modules and imported != module and not module.startswith(imported + "."):
                        edges.add(imported)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
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
        for target in graph[node]:
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "mcp_channels.channels.telegram._runtime" in graph["mcp_channels.channels.telegram._channel"]
    assert cycles(graph) == []


def test_the_check_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_channels_never_import_a_runner_or_the_command_line() -> None:
    graph = import_graph()
    reaching = {
        module: sorted(target for target in targets if target.startswith(("mcp_channels.runners", "mcp_channels.cli")))
        for module, targets in graph.items()
        if module.startswith("mcp_channels.channels")
    }
    assert {module: targets for module, targets in reaching.items() if targets} == {}
