"""The architecture holds (docs/architecture.md): dependencies point one way, there are
no import cycles (function-level imports count: one that dodges a cycle is a cycle),
no module reads or writes another module's private attributes, and every
``__init__.py`` only re-exports. Each check is a function of a package folder, so the
tests below also run it on a planted tree to show it catches what it claims to.

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

# The layers, lowest first (docs/architecture.md draws them). A module never imports a
# module of a higher layer; modules of one layer may import each other (without cycles).
# The longest matching prefix decides a module's layer.
LAYERS: list[tuple[str, ...]] = [
    # the protocol and the base: import nothing else of nexpress
    ("nexpress.http", "nexpress.config", "nexpress._optional", "nexpress._lazy"),
    # declaring an app: routers, middleware, typed handler plans
    ("nexpress.routing", "nexpress.middleware", "nexpress.typed"),
    # running it: dispatch, invokers, the error layer, WebSocket sessions, lifespan, serving
    ("nexpress.server",),
    # the features, each installed on the app
    ("nexpress.pages", "nexpress.cache", "nexpress.realtime", "nexpress.auth", "nexpress.openapi",
     "nexpress.observability", "nexpress.devtools", "nexpress.images", "nexpress.i18n"),
    ("nexpress.app",),
    # the tools around an app
    ("nexpress.cli", "nexpress.build", "nexpress.testing"),
    ("nexpress",),  # the package itself re-exports the public names
]  # fmt: skip

# Known exceptions, each with its reason; the list only shrinks.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    # Auth.install refuses a sub-router (it must own the app's sessions) and keeps the App
    # for start-up: goes when features install through a typed seam instead of the App.
    ("nexpress.auth.core", "nexpress.app"): "Auth.install checks and keeps the App",
}

# ``app: Any`` parameters below the app layer hide an upward dependency from the import
# check: the typed request context replaces them. Each module's current count; a new one
# (or one more in a module) fails.
ALLOWED_APP_ANY: dict[str, int] = {
    "nexpress.openapi.serve": 1,  # serve_openapi(app, config), the old spelling of app.use(OpenAPI(config))
    "nexpress.pages.routes": 1,
    "nexpress.pages.plugin": 1,  # Pages(app): discovery reads root, pages, debug, cache
    "nexpress.devtools": 1,
}

# Private names of other libraries that are their documented API.
ALLOWED_PRIVATE = {"_getframe", "_exit", "_asdict", "_replace", "_fields", "_make", "_field_defaults"}


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = path.relative_to(package.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str, layers: list[tuple[str, ...]] = LAYERS) -> int:
    best = (-1, len(layers))
    for index, prefixes in enumerate(layers):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best[0]:
                best = (len(prefix), index)
    return best[1]


def is_module(name: str, package: Path = PACKAGE) -> bool:
    path = package.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or path.is_dir()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(path: Path, package: Path = PACKAGE) -> list[tuple[str, int]]:
    """(nexpress module, line) for every import, at any depth, except under TYPE_CHECKING."""
    module = module_name(path, package)
    parent = module if path.name == "__init__.py" else module.rpartition(".")[0]
    root = package.name
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, node.lineno) for alias in node.names if alias.name.startswith(root))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parent.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join(base) + (f".{node.module}" if node.module else "")
            else:
                target = node.module or ""
            if target.startswith(root):
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    found.append((candidate if is_module(candidate, package) else target, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def source_files(package: Path = PACKAGE) -> list[Path]:
    return sorted(p for p in package.rglob("*.py") if "node_modules" not in p.parts)


def import_graph(package: Path = PACKAGE) -> dict[str, list[tuple[str, int]]]:
    graph = {}
    for path in source_files(package):
        module = module_name(path, package)
        graph[module] = [(t, line) for t, line in imports_of(path, package) if t != module]
    return graph


def upward_imports(
    package: Path = PACKAGE,
    layers: list[tuple[str, ...]] = LAYERS,
    allowed: dict[tuple[str, str], str] | None = None,
) -> list[str]:
    """Every import of a higher layer (``file:line: module (layer) imports target (layer)``)."""
    problems = []
    for path in source_files(package):
        module = module_name(path, package)
        for target, line in imports_of(path, package):
            if layer_of(target, layers) > layer_of(module, layers) and (module, target) not in (allowed or {}):
                problems.append(
                    f"{path.relative_to(package.parent)}:{line}: {module} (layer {layer_of(module, layers)})"
                    f" imports {target} (layer {layer_of(target, layers)})"
                )
    return problems


def app_any_parameters(package: Path = PACKAGE, layers: list[tuple[str, ...]] = LAYERS) -> dict[str, list[str]]:
    """Per module below the app layer: its ``app: Any`` parameters and attributes (``file:line``)."""
    app_layer = layer_of("nexpress.app", layers)
    found: dict[str, list[str]] = {}
    for path in source_files(package):
        module = module_name(path, package)
        if layer_of(module, layers) >= app_layer:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            hits: list[ast.expr | None] = []
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                args = node.args
                hits = [a.annotation for a in (*args.posonlyargs, *args.args, *args.kwonlyargs) if a.arg == "app"]
            elif isinstance(node, ast.AnnAssign):
                target = node.target
                name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
                hits = [node.annotation] if name == "app" else []
            for annotation in hits:
                if annotation is not None and ast.unparse(annotation) in ("Any", "typing.Any", "'Any'"):
                    found.setdefault(module, []).append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


def app_any_problems(package: Path = PACKAGE, layers: list[tuple[str, ...]] = LAYERS, allowed: dict[str, int] | None = None) -> list[str]:
    allowed = allowed or {}
    return [
        f"{module}: {len(sites)} app: Any (allowed {allowed.get(module, 0)}): {', '.join(sites)}"
        for module, sites in app_any_parameters(package, layers).items()
        if len(sites) > allowed.get(module, 0)
    ]


def test_no_module_imports_a_higher_layer():
    problems = upward_imports(allowed=ALLOWED_UPWARD)
    assert not problems, "upward imports:\n" + "\n".join(problems)


def test_the_allowed_upward_imports_still_exist():
    """An exception that is no longer needed is removed from the list."""
    graph = import_graph()
    stale = [pair for pair in ALLOWED_UPWARD if pair[1] not in {t for t, _ in graph.get(pair[0], [])}]
    assert not stale, f"remove from ALLOWED_UPWARD: {stale}"


def test_no_new_app_any_below_the_app_layer():
    problems = app_any_problems(allowed=ALLOWED_APP_ANY)
    assert not problems, "app: Any below the app layer (use a typed context):\n" + "\n".join(problems)


def test_the_app_any_allowance_is_not_larger_than_needed():
    found = {module: len(sites) for module, sites in app_any_parameters().items()}
    loose = {m: (n, found.get(m, 0)) for m, n in ALLOWED_APP_ANY.items() if found.get(m, 0) < n}
    assert not loose, f"lower ALLOWED_APP_ANY (allowed, found): {loose}"


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


def import_cycles(package: Path = PACKAGE) -> list[list[str]]:
    return _cycles({module: [t for t, _ in targets] for module, targets in import_graph(package).items()})


def test_no_import_cycles():
    cycles = import_cycles()
    assert not cycles, "import cycles (function-level imports count):\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}) == [["a", "b", "c"]]
    assert _cycles({"a": ["b"], "b": []}) == []


def test_the_layer_check_knows_every_module():
    unknown = [module_name(p) for p in source_files() if layer_of(module_name(p)) == len(LAYERS)]
    assert not unknown, f"modules missing from LAYERS: {unknown}"


def test_every_package_init_only_re_exports():
    """A package's ``__init__.py`` holds its docstring, imports and ``__all__``: the code
    lives in modules named for what they do. A lazy re-export is imports under
    ``TYPE_CHECKING`` plus ``__getattr__, __dir__ = exports(...)`` (nexpress/_lazy.py)."""
    problems = []
    for path in PACKAGE.rglob("__init__.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                continue
            if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] in (["__all__"], ["__version__"]):
                continue
            if (
                isinstance(node, ast.If)
                and _is_type_checking(node.test)
                and not node.orelse
                and all(isinstance(child, (ast.Import, ast.ImportFrom)) for child in node.body)
            ):
                continue
            if (
                isinstance(node, ast.Assign)
                and [ast.unparse(t) for t in node.targets] == ["(__getattr__, __dir__)"]
                and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) == "exports"
            ):
                continue
            problems.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert not problems, "code in __init__.py:\n" + "\n".join(problems)


def planted_package(tmp_path: Path, files: dict[str, str]) -> Path:
    """A copy of nexpress's folder layout with ``files`` (relative path -> source) only."""
    package = tmp_path / "nexpress"
    for name, source in files.items():
        path = package / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    for folder in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (folder / "__init__.py").touch()
    return package


def test_the_layer_check_catches_a_planted_upward_import(tmp_path):
    package = planted_package(tmp_path, {
        "http/request.py": "from ..app import App\n",
        "http/response.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..app import App\n",
        "server/dispatch.py": "from ..http.request import Request\n",
        "app.py": "from .server.dispatch import Dispatcher\n",
    })  # fmt: skip
    problems = upward_imports(package)
    assert len(problems) == 1 and problems[0].startswith("nexpress/http/request.py:1: nexpress.http.request (layer 0)")
    assert upward_imports(package, allowed={("nexpress.http.request", "nexpress.app"): "test"}) == []


def test_the_cycle_check_catches_a_planted_cycle(tmp_path):
    package = planted_package(tmp_path, {
        "pages/routes.py": "from .folders import Folder\n",
        "pages/folders.py": "def load():\n    from .routes import FileRoutes  # a function-level import counts\n",
        "pages/render.py": "from .folders import Folder\n",
    })  # fmt: skip
    assert import_cycles(package) == [["nexpress.pages.folders", "nexpress.pages.routes"]]


def test_the_app_any_check_catches_a_planted_parameter(tmp_path):
    package = planted_package(tmp_path, {
        "http/request.py": "from typing import Any\n\nclass Request:\n    def __init__(self, scope, app: Any) -> None:\n        self.app = app\n",
        "server/invoke.py": "from typing import Any\n\nclass Invoker:\n    app: Any\n",
        "pages/routes.py": "async def render(req, app: 'App') -> None: ...\n",
        "app.py": "from typing import Any\n\ndef compile(app: Any) -> None: ...\n",  # the app layer may
    })  # fmt: skip
    assert sorted(app_any_parameters(package)) == ["nexpress.http.request", "nexpress.server.invoke"]
    assert len(app_any_problems(package)) == 2
    assert app_any_problems(package, allowed={"nexpress.http.request": 1, "nexpress.server.invoke": 1}) == []


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


def test_one_definition_of_async_detection_vary_and_the_method_list():
    """Issue 20's duplicates stay gone: async detection lives in ``http/calls.py``, the Vary
    rule in ``Response.vary``, the method list in ``routing/router.py``."""
    methods = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
    found: dict[str, list[str]] = {"async detection": [], "method list": [], "vary": []}
    for path in source_files():
        where = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name != "is_async_callable":
                inner = ast.unparse(node)
                if "iscoroutinefunction" in inner and "__call__" in inner:
                    found["async detection"].append(f"{where}:{node.name}")
            if isinstance(node, ast.FunctionDef) and node.name == "is_async_callable":
                found["async detection"].append(f"{where}:{node.name}")
            elif isinstance(node, ast.Tuple) and all(isinstance(e, ast.Constant) for e in node.elts):
                if tuple(e.value for e in node.elts) == methods:  # type: ignore[attr-defined]
                    found["method list"].append(where)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and "vary" in node.name.lower():
                found["vary"].append(f"{where}:{node.name}")
    assert found == {
        "async detection": ["nexpress/http/calls.py:is_async_callable"],
        "method list": ["nexpress/routing/router.py"],
        "vary": ["nexpress/http/response.py:vary"],
    }


def test_the_route_header_name_is_written_once():
    """``x-nexpress-route`` as bytes lives in http/writer.py (``ROUTE_HEADER``) only
    (issue 20, duplicates)."""
    found = sorted(
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if b'b"x-nexpress-route"' in path.read_bytes()
    )
    assert found == ["http/writer.py"]


# What `from nexpress import App` must not load: features load when the app enables them
# (issue 21: import time). The plugin seam makes them lazy: App installs them by name.
OPTIONAL_AT_IMPORT = (
    "nexpress.devtools",
    "nexpress.openapi",
    "nexpress.observability",
    "nexpress.server.health",
    "nexpress.server.serving",
    "nexpress.pages.routes",
    "nexpress.pages.render",
    "nexpress.cache",
    "nexpress.auth",
    "nexpress.cli",
    "nexpress.middleware.sessions",
    "nexpress.middleware.rate_limit",
    "jinja2",
    "sqlite3",
    "redis",
    "granian",
    "itsdangerous",
    "python_multipart",
)


def _modules_after(statement: str) -> set[str]:
    code = f"import sys\n{statement}\nprint('\\n'.join(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_import_nexpress_loads_nothing_until_a_name_is_used():
    loaded = {m for m in _modules_after("import nexpress") if m.startswith("nexpress")}
    assert loaded == {"nexpress", "nexpress._lazy"}


def test_the_app_loads_no_optional_feature_until_enabled():
    loaded = _modules_after("from nexpress import App, Request, Response, Router, action, static")
    assert "nexpress.app" in loaded and "nexpress.pages.actions" in loaded
    found = sorted(m for m in loaded for name in OPTIONAL_AT_IMPORT if m == name or m.startswith(name + "."))
    assert found == [], f"imported by `from nexpress import App`: {found}"
    # enabling a feature loads it: App(openapi=...) the document, a debug app the dev page
    enabled = _modules_after("from nexpress import App\nApp(root='/nonexistent', debug=True, openapi={})")
    assert {"nexpress.openapi", "nexpress.devtools"} <= enabled


def test_a_lazy_battery_name_stays_the_function_whatever_the_import_order():
    """middleware/csrf.py defines csrf(): importing the module first (as nexpress.auth
    does) must not make ``from nexpress.middleware import csrf`` the module."""
    code = (
        "import types\nimport nexpress.middleware.csrf, nexpress.middleware.sessions\n"
        "from nexpress.middleware import csrf, sessions, cors\nimport nexpress.middleware as mw\n"
        "assert not any(isinstance(f, types.ModuleType) for f in (csrf, sessions, cors, mw.csrf)), (csrf, sessions)\n"
        "assert callable(csrf) and csrf.__module__ == 'nexpress.middleware.csrf'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ})
    assert done.returncode == 0, done.stderr
