"""Why a page is static, ISR or dynamic, each reason with its file and line.

Decided once, at discovery, from what the page declares (``page_mode``) and read
again here only to point at the lines: ``dynamic = True`` (in ``page.py`` or in a
``layout.py`` above it), ``auth = True``, a
``data()``/``page()`` without ``revalidate``, a ``data()`` reading per-visitor
parts of the request (``req.query``, ``req.cookies``...), a template reading
``req``/``query``/``auth``. Stored on the route (``RouteDef.info["cache"]``) for
``nexpress cache explain`` and the dev page; nothing here runs per request.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from .reads import PER_VISITOR, reads_in

if TYPE_CHECKING:
    import jinja2

__all__ = ["REQUEST_ATTRIBUTES", "TEMPLATE_VARIABLES", "ModuleFacts", "cache_info", "hole_info", "module_facts", "reason"]

TEMPLATE_VARIABLES = ("req", "query", "auth")
"""Template variables that differ per visitor."""

REQUEST_ATTRIBUTES = PER_VISITOR
"""Attributes of ``req`` that differ per visitor (params and path do not)."""

_FUNCTIONS = ("data", "page", "metadata")


def reason(text: str, file: str, line: int | None) -> dict[str, Any]:
    """One reason as ``explain`` prints it: ``auth = True`` at app/x/page.py:3."""
    return {"reason": text, "file": file, "line": line}


class ModuleFacts:
    """The lines of a page module's top-level assignments and functions, and the
    per-visitor request attributes each function reads."""

    def __init__(self, path: str | None) -> None:
        self.assignments: dict[str, int] = {}
        self.functions: dict[str, int] = {}
        self.reads: dict[str, list[tuple[str, int]]] = {}
        if path is None or not os.path.isfile(path):
            return
        try:
            with open(path, encoding="utf-8") as fh:
                tree = ast.parse(fh.read(), path)
        except (OSError, SyntaxError, ValueError):
            return
        for node in tree.body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assignments.setdefault(target.id, node.lineno)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                self.assignments.setdefault(node.target.id, node.lineno)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, node.lineno)
                if node.name in _FUNCTIONS:
                    self.reads[node.name] = _request_reads(node)


def module_facts(module: ModuleType | None) -> ModuleFacts:
    return ModuleFacts(getattr(module, "__file__", None) if module is not None else None)


def _request_reads(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, int]]:
    """``req.query``-style reads in ``fn`` (its first parameter is the request), the
    first read of each attribute."""
    name = ([*fn.args.posonlyargs, *fn.args.args] or [None])[0]
    seen: set[str] = set()
    found = []
    for attribute, line in reads_in(fn):
        if attribute not in seen and name is not None:
            seen.add(attribute)
            found.append((f"{name.arg}.{attribute}", line))
    return found


def template_reads(env: jinja2.Environment, name: str) -> list[tuple[str, int]]:
    """Per-visitor variables a template reads (``req``, ``query``, ``auth``), each
    with the line of its first use."""
    from jinja2 import meta as jinja_meta
    from jinja2 import nodes

    source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
    tree = env.parse(source)
    wanted = jinja_meta.find_undeclared_variables(tree) & set(TEMPLATE_VARIABLES)
    lines: dict[str, int] = {}
    for node in tree.find_all(nodes.Name):
        if node.name in wanted and node.name not in lines:
            lines[node.name] = node.lineno
    return sorted(lines.items(), key=lambda item: item[1])


def cache_info(
    module: ModuleType | None,
    source: str,
    mode: str,
    revalidate: int | None,
    env: jinja2.Environment,
    templates: list[tuple[str, str]],
    dynamic_layouts: Sequence[tuple[ModuleType | None, str]] = (),
) -> dict[str, Any]:
    """``{"mode", "revalidate", "reasons"}`` for a page: ``source`` is its file
    (``app/blog/page.py``), ``templates`` its (template name, file) pairs, page first,
    then its layouts; ``dynamic_layouts`` the (module, file) of each layout above it
    with ``dynamic = True``."""
    facts = module_facts(module)
    module_file = source if source.endswith(".py") else None
    reasons: list[dict[str, Any]] = []
    if mode == "isr":
        reasons.append(reason(f"revalidate = {revalidate}", source, facts.assignments.get("revalidate")))
    elif mode == "static":
        if module is None:
            reasons.append(reason("page.html without page.py: nothing per request", source, None))
        elif getattr(module, "static", False):
            reasons.append(reason("static = True", source, facts.assignments.get("static")))
        else:
            reasons.append(reason("page.py defines neither data() nor page()", source, None))
    else:
        for flag in ("dynamic", "auth"):
            if module_file is not None and getattr(module, flag, False):
                reasons.append(reason(f"{flag} = True", module_file, facts.assignments.get(flag)))
        for layout_module, layout_file in dynamic_layouts:
            line = module_facts(layout_module).assignments.get("dynamic")
            reasons.append(reason(f"{layout_file} sets dynamic = True (every page below it)", layout_file, line))
        for function in ("data", "page"):
            if module_file is not None and hasattr(module, function):
                reasons.append(
                    reason(f"{function}() without revalidate", module_file, facts.functions.get(function))
                )
    if module_file is not None and mode == "dynamic":
        for function in _FUNCTIONS:
            for read, line in facts.reads.get(function, ()):
                reasons.append(reason(f"{function}() reads {read}", module_file, line))
    if mode == "dynamic":
        for name, file in templates:
            for variable, line in template_reads(env, name):
                reasons.append(reason(f"the template reads {variable!r}", file, line))
    return {"mode": mode, "revalidate": revalidate, "reasons": reasons}


def hole_info(holes: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``{% dynamic %}`` holes of a cached page, for ``explain`` and ``routes``:
    each rendered per request into the cached shell (which keeps only its fallback)."""
    return [reason("{% dynamic %} hole: rendered per request, the shell stays cached", f"app/{hole.template}", hole.line) for hole in holes]
