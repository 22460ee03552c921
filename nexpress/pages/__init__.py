"""File-system routing: the ``app/`` folder turned into ordinary routes (see
``routes`` for the conventions; ``docs/pages.md`` for users). ``App`` installs the
plugins of :mod:`.plugin`; the rest loads when an ``app/`` folder is found."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import exports

if TYPE_CHECKING:
    from .errors import PageError
    from .folders import FileRouteError
    from .guards import AuthGuard, FolderMiddleware
    from .plugin import ClientScript, Pages, PublicFiles
    from .public import public_routes
    from .routes import FileRoutes

__all__ = [
    "AuthGuard",
    "ClientScript",
    "FileRouteError",
    "FileRoutes",
    "FolderMiddleware",
    "PageError",
    "Pages",
    "PublicFiles",
    "public_routes",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "AuthGuard": ".guards",
        "ClientScript": ".plugin",
        "FileRouteError": ".folders",
        "FileRoutes": ".routes",
        "FolderMiddleware": ".guards",
        "PageError": ".errors",
        "Pages": ".plugin",
        "PublicFiles": ".plugin",
        "public_routes": ".public",
    },
)
