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
from types import ModuleType
from typing import Any

__all__ = ["exports"]


class _Package(ModuleType):
    """A package whose public names include functions named like their modules
    (``nexpress.middleware.csrf``, the function, lives in ``middleware/csrf.py``): when
    the import system binds a submodule of that name on the package, the name keeps
    meaning the function (as an eager ``from .csrf import csrf`` in ``__init__`` made
    it)."""

    _shadowed: frozenset[str] = frozenset()

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, ModuleType) and name in self._shadowed:
            return  # the submodule stays reachable in sys.modules; the name stays the function
        super().__setattr__(name, value)


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

    module = sys.modules[package]
    shadowed = frozenset(name for name, source in where.items() if source.rpartition(".")[2] == name)
    if shadowed:
        module.__class__ = type("Package", (_Package,), {"_shadowed": shadowed})
        for name in shadowed:  # a submodule bound before exports() ran (an import inside __init__)
            if isinstance(vars(module).get(name), ModuleType):
                delattr(module, name)
    return __getattr__, __dir__
