"""Lazy re-exports: a package ``__init__`` that names its public objects without
importing the modules that define them until one is used (``import nexpress`` stays
quick; an optional feature costs nothing until the app enables it).

    __getattr__, __dir__ = exports(__name__, {"App": ".app", ...})

Type checkers read the same names from an ``if TYPE_CHECKING:`` block of imports.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Any

__all__ = ["exports"]


def exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``where`` maps each public name to
    the module (relative to the package) that defines it; the first use imports it
    and keeps the value in the package's namespace (later reads cost nothing)."""

    def __getattr__(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
