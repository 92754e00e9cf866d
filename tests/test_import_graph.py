"""No import cycles at run time inside minidouble (issue 14).

Every ``import`` counts, also one inside a function (it runs when the function does); one
under ``if TYPE_CHECKING:`` does not. A module importing its own parent package is not an
edge: Python has initialised the parent before any of its submodules runs. The layer
contracts themselves are checked by import-linter (``lint-imports``, .ci/run).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import minidouble

ROOT = Path(minidouble.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["minidouble", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(path): path for path in ROOT.rglob("*.py")}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST, module: str) -> Iterator[str]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _imports(other, module)
            continue
        if isinstance(child, ast.Import):
            for alias in child.names:
                yield alias.name
        elif isinstance(child, ast.ImportFrom):
            base = child.module or ""
            if child.level:
                package = module.split(".")
                if MODULES[module].name != "__init__.py":
                    package = package[:-1]
                package = package[: len(package) - child.level + 1]
                base = ".".join([*package, base] if base else package)
            for alias in child.names:
                submodule = f"{base}.{alias.name}"
                yield submodule if submodule in MODULES else base
        else:
            yield from _imports(child, module)


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        targets = {name for name in _imports(tree, module) if name in MODULES}
        # Importing your own parent package is implied by being imported; not a choice.
        parents = {module.rsplit(".", i)[0] for i in range(1, module.count(".") + 1)}
        graph[module] = targets - parents - {module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_imports_inside_functions() -> None:
    graph = _graph()
    # minidouble.__init__ imports lazily by name; _fake imports the app inside a function.
    assert "minidouble._service._app" in graph["minidouble._fake"]


def test_no_import_cycles_at_run_time() -> None:
    cycles = _cycles(_graph())
    assert cycles == [], "run-time import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
