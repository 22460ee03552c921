"""The architecture holds (docs/architecture.md): dependencies point one way, there are
no import cycles (function-level imports count: one that dodges a cycle is a cycle),
and no module reads or writes another module's private attributes.

Static checks on the source (ast), so they fail at once, naming the file and line.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nexpress"

# Lower layers never import higher ones; modules of one layer may import each other
# (without cycles). The first matching prefix decides a module's layer.
LAYERS: list[tuple[str, ...]] = [
    ("nexpress.http", "nexpress.config", "nexpress._optional"),
    ("nexpress.typed",),
    ("nexpress.middleware", "nexpress.routing"),
    ("nexpress.realtime", "nexpress.server"),
    ("nexpress.cache",),
    ("nexpress.pages", "nexpress.openapi", "nexpress.devtools", "nexpress.observability"),
    ("nexpress.app",),
    ("nexpress.auth", "nexpress.testing", "nexpress.build"),
    ("nexpress.cli",),
    ("nexpress",),  # the package itself re-exports the public names
]

# Private names of other libraries that are their documented API.
ALLOWED_PRIVATE = {"_getframe", "_exit", "_asdict", "_replace", "_fields", "_make", "_field_defaults"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    best = (-1, len(LAYERS))
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), index)
    return best[1]


def is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(nexpress module, line) for every import, at any depth, except under TYPE_CHECKING."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names if alias.name.startswith("nexpress"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join(base) + (f".{node.module}" if node.module else "")
            else:
                target = node.module or ""
            if target.startswith("nexpress"):
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    found.append((candidate if is_module(candidate) else target, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def source_files() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "node_modules" not in p.parts)


def import_graph() -> dict[str, list[tuple[str, int]]]:
    return {module_name(p): [(t, line) for t, line in imports_of(p) if t != module_name(p)] for p in source_files()}


def test_no_module_imports_a_higher_layer():
    problems = []
    for path in source_files():
        module = module_name(path)
        for target, line in imports_of(path):
            if layer_of(target) > layer_of(module):
                problems.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {module} (layer {layer_of(module)})"
                    f" imports {target} (layer {layer_of(target)})"
                )
    assert not problems, "upward imports:\n" + "\n".join(problems)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if target not in index:
                strongconnect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            strongconnect(node)
    return found


def test_no_import_cycles():
    graph = {module: [t for t, _ in targets] for module, targets in import_graph().items()}
    cycles = _cycles(graph)
    assert not cycles, "import cycles (function-level imports count):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_the_layer_check_knows_every_module():
    unknown = [module_name(p) for p in source_files() if layer_of(module_name(p)) == len(LAYERS)]
    assert not unknown, f"modules missing from LAYERS: {unknown}"


def own_private_names(tree: ast.Module) -> set[str]:
    """Private names a module defines itself: module globals, class members, slots,
    and attributes its code sets on ``self``/``cls``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name.startswith("_"):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store) and node.id.startswith("_"):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr.startswith("_"):
            names.add(node.attr)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("_") and node.value.isidentifier():
            names.add(node.value)  # __slots__ entries
    return names


def private_access_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    own = own_private_names(tree)
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        attr = node.attr
        if not attr.startswith("_") or attr.startswith("__") or attr in ALLOWED_PRIVATE:
            continue
        if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            continue
        if attr in own:
            continue  # the same module's objects (another instance of its own class)
        problems.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: reads or writes {ast.unparse(node)}")
    return problems


def test_no_module_touches_another_modules_private_attributes():
    problems = [p for path in source_files() for p in private_access_problems(path)]
    assert not problems, "private attributes used across modules:\n" + "\n".join(problems)


def test_the_private_check_catches_cross_module_access(tmp_path):
    sample = PACKAGE / "_architecture_probe.py"
    sample.write_text("def peek(res):\n    return res._body\n\nclass Own:\n    def copy(self, other):\n        self._x = other._x\n")
    try:
        problems = private_access_problems(sample)
    finally:
        sample.unlink()
    assert len(problems) == 1 and "res._body" in problems[0]


@pytest.mark.parametrize("module", ["nexpress", "nexpress.app", "nexpress.cli", "nexpress.auth", "nexpress.middleware"])
def test_each_entry_point_imports_alone(module):
    """A fresh interpreter imports it: no cycle hidden by import order."""
    done = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 0, done.stderr
