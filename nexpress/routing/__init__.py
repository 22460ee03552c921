"""Routing: routers record declarations (:mod:`.router`), features install through
:class:`Plugin` (:mod:`.plugin`), endpoints and patterns (:mod:`.endpoint`, :mod:`.pattern`),
and the route table ``App`` compiles once at start-up (:mod:`.table`).
"""

from __future__ import annotations

from .endpoint import Endpoint
from .pattern import PatternError
from .plugin import Plugin
from .router import RouteBuilder, Router

__all__ = ["Endpoint", "PatternError", "Plugin", "RouteBuilder", "Router"]
