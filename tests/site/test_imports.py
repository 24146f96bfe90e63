"""The layering holds: no import cycle among our modules, and no import hidden in a function
without saying why (a function-level import is how a cycle gets smuggled back in)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("payments", "ticketing")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str, path: Path, modules: dict[str, Path], *, nested: bool) -> set[str]:
    """Our modules that `module` imports at module level (nested=False) or inside functions."""
    tree = ast.parse(path.read_text("utf-8"))
    is_package = path.name == "__init__.py"
    inside = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for sub in ast.walk(node)
    }
    targets = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom) or (id(node) in inside) != nested:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            origin = _resolve(module, node, is_package)
            names = [origin, *(f"{origin}.{alias.name}" for alias in node.names)]
        targets.update(name for name in names if name in modules and name != module)
    return targets


def test_no_import_cycle_among_our_modules():
    modules = _modules()
    graph = {name: _imports(name, path, modules, nested=False) for name, path in modules.items()}
    # Importing a.b.c runs a/__init__ and a/b/__init__ first: those are edges too.
    for name in list(graph):
        parent = name.rpartition(".")[0]
        if parent in graph:
            graph[name].add(parent)
    cycles, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycle = [*trail[trail.index(target) :], target]
                # A package importing its own submodules is not a cycle of layers.
                if not all(step.startswith(cycle[0] + ".") for step in cycle[1:-1]):
                    cycles.append(" -> ".join(cycle))
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, cycles


def test_every_function_level_import_says_why():
    unexplained = []
    for path in _modules().values():
        lines = path.read_text("utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Import | ast.ImportFrom):
                    context = lines[max(sub.lineno - 4, 0) : sub.end_lineno]
                    if not any("#" in line for line in context):
                        unexplained.append(f"{path.relative_to(ROOT)}:{sub.lineno}")
    assert not unexplained, f"function-level imports without a reason: {unexplained}"
