"""The facts about a page that say why it is static, ISR or dynamic, each with its
file and line: what page.py declares (``dynamic``, ``auth``, ``static``,
``revalidate``, ``data()``/``page()``), per-visitor reads in its functions
(``req.query``, ``req.cookies``...), layouts with ``dynamic = True`` and templates
reading ``req``/``query``/``auth``.

This module only gathers them (modules, their source, templates) into
:class:`~nexpress.cache.explain.PageFacts`; the rules that turn them into a mode and
reasons are pure functions there (``page_mode``, ``page_reasons``). The result is
stored on the route (``RouteDef.info["cache"]``) for ``nexpress cache explain`` and
the dev page; nothing here runs per request.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Sequence
from dataclasses import replace
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..cache.explain import PageFacts, page_mode, page_reasons, reason
from .reads import PER_VISITOR, reads_in

if TYPE_CHECKING:
    import jinja2

__all__ = ["REQUEST_ATTRIBUTES", "TEMPLATE_VARIABLES", "ModuleFacts", "cache_info", "declared", "hole_info", "module_facts", "reason"]

TEMPLATE_VARIABLES = ("req", "query", "auth")
"""Template variables that differ per visitor."""

REQUEST_ATTRIBUTES = PER_VISITOR
"""Attributes of ``req`` that differ per visitor (params and path do not)."""

_FUNCTIONS = ("data", "page", "metadata")


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


def declared(module: ModuleType | None, source: str) -> PageFacts:
    """What ``module`` (a page.py, or None for a page.html alone) declares, by value:
    enough for :func:`~nexpress.cache.explain.page_mode` (no source read)."""
    if module is None:
        return PageFacts(source)
    return PageFacts(
        source,
        module_file=source,
        dynamic=bool(getattr(module, "dynamic", False)),
        auth=bool(getattr(module, "auth", False)),
        static=bool(getattr(module, "static", False)),
        revalidate=getattr(module, "revalidate", None) or None,
        functions=tuple(name for name in ("data", "page") if hasattr(module, name)),
    )


def cache_info(
    module: ModuleType | None,
    source: str,
    env: jinja2.Environment,
    templates: list[tuple[str, str]],
    dynamic_layouts: Sequence[tuple[ModuleType | None, str]] = (),
) -> dict[str, Any]:
    """``{"mode", "revalidate", "reasons"}`` for a page: ``source`` is its file
    (``app/blog/page.py``), ``templates`` its (template name, file) pairs, page first,
    then its layouts; ``dynamic_layouts`` the (module, file) of each layout above it
    with ``dynamic = True``."""
    facts = module_facts(module)
    page = replace(
        declared(module, source),
        lines={**facts.functions, **facts.assignments},
        reads=tuple((function, read, line) for function in _FUNCTIONS for read, line in facts.reads.get(function, ())),
        dynamic_layouts=tuple((file, module_facts(layout).assignments.get("dynamic")) for layout, file in dynamic_layouts),
    )
    if page_mode(page)[0] == "dynamic":  # templates are read for dynamic pages only
        reads = tuple((variable, file, line) for name, file in templates for variable, line in template_reads(env, name))
        page = replace(page, template_reads=reads)
    return page_reasons(page)


def hole_info(holes: Sequence[Any]) -> list[dict[str, Any]]:
    """The ``{% dynamic %}`` holes of a cached page, for ``explain`` and ``routes``:
    each rendered per request into the cached shell (which keeps only its fallback)."""
    return [reason("{% dynamic %} hole: rendered per request, the shell stays cached", f"app/{hole.template}", hole.line) for hole in holes]
