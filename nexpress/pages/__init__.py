"""File-system routing: the ``app/`` folder turned into ordinary routes (see
``routes`` for the conventions; ``docs/pages.md`` for users)."""

from __future__ import annotations

from .errors import PageError
from .folders import FileRouteError
from .guards import AuthGuard, FolderMiddleware
from .public import public_routes
from .routes import FileRoutes, discover

__all__ = ["AuthGuard", "FileRouteError", "FileRoutes", "FolderMiddleware", "PageError", "discover", "public_routes"]
