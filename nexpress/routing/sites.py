"""Declaration sites: where a route was declared (file:line), shown in errors and ``nexpress routes``."""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import Callable


def declaration_site() -> str:
    """file:line of the user code that called into nexpress (for error messages)."""
    frame = sys._getframe(1)
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(package + os.sep):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def handler_source(fn: Callable, root: str) -> str:
    """``server.py:12 show_user``: where a handler is defined, relative to ``root``."""
    target = inspect.unwrap(fn)
    code = getattr(target, "__code__", None)
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    if code is None:
        call = getattr(type(target), "__call__", None)  # noqa: B004
        code = getattr(call, "__code__", None)
    if code is None:
        return name
    return f"{relative_to(code.co_filename, root)}:{code.co_firstlineno} {name}"


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../nexpress


def relative_to(filename: str, root: str) -> str:
    """``filename`` relative to the app's ``root``; a file of nexpress itself (a
    route a feature adds) as ``nexpress/...``, wherever the package is installed."""
    path = os.path.abspath(filename)
    if path.startswith(_PACKAGE_DIR + os.sep):
        return os.path.relpath(path, os.path.dirname(_PACKAGE_DIR)).replace(os.sep, "/")
    try:
        rel = os.path.relpath(path, root)
    except ValueError:
        return filename
    return filename if rel.startswith("..") else rel


def make_site_relative(site: str, root: str) -> str:
    filename, _, line = site.rpartition(":")
    return f"{relative_to(filename, root)}:{line}" if filename else site
