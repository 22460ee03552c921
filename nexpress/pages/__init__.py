"""File-system routing: the ``app/`` folder turned into ordinary routes.

Discovery runs once, at start-up, and produces the same ``RouteDef`` objects
that ``app.get()`` creates (kind ``static``/``isr``/``dynamic``/``api``, source
``app/blog/[slug]/page.py``), so file routes and Express routes share one
route table, one precedence and one conflict check.

| file | role |
|---|---|
| ``page.html`` / ``page.py`` | a page at the folder's URL |
| ``route.py`` | API handlers ``GET POST PUT PATCH DELETE`` |
| ``layout.html`` (+ ``layout.py``) | wraps every page below; outputs ``{{ children }}``; ``dynamic = True`` in ``layout.py``: every page below is dynamic |
| ``error.html`` / ``not-found.html`` | nearest one renders errors / 404s below it |
| ``middleware.py`` | ``async def middleware(req, res, next)`` for its folder and below |
| ``sitemap.py`` / ``robots.py`` | ``/sitemap.xml`` / ``/robots.txt`` |

Folder names: ``[slug]`` -> ``:slug``, ``[...path]`` -> ``*path``,
``[[...path]]`` -> optional ``*path``, ``(group)`` -> nothing, ``_private`` ->
never routed.
"""

from __future__ import annotations

from .errors import PageError
from .folders import FileRouteError
from .guards import AuthGuard, FolderMiddleware
from .public import public_routes
from .routes import FileRoutes, discover

__all__ = ["AuthGuard", "FileRouteError", "FileRoutes", "FolderMiddleware", "PageError", "discover", "public_routes"]
