"""nexpress: Express's explicit API and Next.js's full-stack features, in Python.

The public names load on first use: ``import nexpress`` imports nothing else, and
``from nexpress import App`` the app and what it needs, never an optional feature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import exports

if TYPE_CHECKING:
    from .app import App
    from .http.draft import draft_mode
    from .http.errors import HTTPError, not_found
    from .http.request import FormData, Request, UploadFile
    from .http.response import Response, redirect
    from .middleware.chain import Middleware, Next
    from .middleware.static import static
    from .pages.actions import action
    from .pages.builds import AssetBuild
    from .routing.pattern import PatternError
    from .routing.plugin import Plugin
    from .routing.router import Router
    from .routing.table import RouteConflictError

__version__ = "0.1.0"

__all__ = [
    "App",
    "AssetBuild",
    "FormData",
    "HTTPError",
    "Middleware",
    "Next",
    "PatternError",
    "Plugin",
    "Request",
    "Response",
    "RouteConflictError",
    "Router",
    "UploadFile",
    "action",
    "draft_mode",
    "not_found",
    "redirect",
    "static",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "App": ".app",
        "AssetBuild": ".pages.builds",
        "draft_mode": ".http.draft",
        "FormData": ".http.request",
        "HTTPError": ".http.errors",
        "Middleware": ".middleware.chain",
        "Next": ".middleware.chain",
        "PatternError": ".routing.pattern",
        "Plugin": ".routing.plugin",
        "Request": ".http.request",
        "Response": ".http.response",
        "RouteConflictError": ".routing.table",
        "Router": ".routing.router",
        "UploadFile": ".http.request",
        "action": ".pages.actions",
        "not_found": ".http.errors",
        "redirect": ".http.response",
        "static": ".middleware.static",
    },
)
