"""The folders of ``app/``: what each contributes to the pages below it (layout, error pages, middleware), folder names as URL segments, and importing its Python files."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from ..routing.pattern import escape_pattern

_SEGMENT_PARAM = re.compile(r"^\[([A-Za-z_$][A-Za-z0-9_$]*)\]$")
_SEGMENT_SPLAT = re.compile(r"^\[\.\.\.([A-Za-z_$][A-Za-z0-9_$]*)\]$")
_SEGMENT_OPTIONAL = re.compile(r"^\[\[\.\.\.([A-Za-z_$][A-Za-z0-9_$]*)\]\]$")


class FileRouteError(ValueError):
    """A problem in ``app/`` found at start-up; the message names the file."""


@dataclass
class Layout:
    template: str  # template name relative to app/ ("blog/layout.html")
    module: ModuleType | None
    source: str  # "app/blog/layout.html"

    @property
    def code(self) -> str:
        """Its ``layout.py`` as ``nexpress routes`` names files ("app/blog/layout.py")."""
        return self.source[: -len(".html")] + ".py"

    @property
    def dynamic(self) -> bool:
        """``dynamic = True`` in its ``layout.py``: every page below renders per request."""
        return self.module is not None and bool(getattr(self.module, "dynamic", False))


@dataclass
class Folder:
    """One folder of ``app/`` with what it contributes to the pages below it."""

    directory: str
    rel: str  # "app/blog/[slug]"
    template_dir: str  # "blog/[slug]" (relative to app/, for Jinja)
    pattern: str  # "/blog/:slug"
    parent: Folder | None
    layout: Layout | None = None
    error: str | None = None
    not_found: str | None = None
    loading: str | None = None  # loading.html (template name)
    middleware: list[Any] = field(default_factory=list)

    def chain(self) -> list[Folder]:
        folders = []
        node: Folder | None = self
        while node is not None:
            folders.append(node)
            node = node.parent
        return list(reversed(folders))


def folder_segment(name: str, rel: str) -> tuple[str, bool]:
    """URL pattern piece for a folder name, and whether it must be the last one."""
    if name.startswith("(") and name.endswith(")"):
        return "", False
    m = _SEGMENT_OPTIONAL.match(name)
    if m:
        return "{/*" + m.group(1) + "}", True
    m = _SEGMENT_SPLAT.match(name)
    if m:
        return "/*" + m.group(1), True
    m = _SEGMENT_PARAM.match(name)
    if m:
        return "/:" + m.group(1), False
    if "[" in name or "]" in name:
        raise FileRouteError(
            f"{rel}: folder name {name!r} is not a route segment: use [name], [...name] or [[...name]]"
        )
    return "/" + escape_pattern(name), False


def load_module(path: str, root: str) -> ModuleType:
    """Import a Python file of ``app/`` by path, under a private module name."""
    rel = os.path.relpath(path, root)
    name = "nexpress_app_." + re.sub(r"\W", "_", rel[:-3])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise FileRouteError(f"cannot import {rel}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
