"""The ``app/`` folder and ``public/`` as plugins: what ``App`` installs by default.

Both generate their routes when the app compiles (a file added before a reload shows
up), through the one seam every feature uses (:class:`nexpress.routing.Plugin`).
This module imports nothing heavy: discovery (Jinja2, the page machinery, the cache)
loads on the first compile that finds an ``app/`` folder, so a JSON API never pays it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..routing.plugin import Plugin

if TYPE_CHECKING:
    from ..routing.router import RouteDef
    from .routes import FileRoutes

__all__ = ["ClientScript", "Pages", "PublicFiles"]


class Pages(Plugin):
    """``app/``: file routes, layouts, actions, route assets and error pages
    (``nexpress.pages.routes``), discovered on every compile."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.file_routes: FileRoutes | None = None
        """The discovered folder after a compile, or None (no ``app/`` folder)."""

    def routes(self) -> Sequence[RouteDef]:
        app = self.app
        directory = os.path.join(app.root, app.pages) if app.pages else None
        if directory is None or not os.path.isdir(directory):
            self.file_routes = None
            return ()
        from .routes import FileRoutes

        self.file_routes = FileRoutes(app, directory)
        return self.file_routes.routes


class ClientScript(Plugin):
    """``/_nexpress/client.<hash>.js`` (and the plain URL): the browser script of
    navigation, prefetch and action forms, served while ``pages`` found an ``app/``."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def routes(self) -> Sequence[RouteDef]:
        if self.pages.file_routes is None:  # Pages runs first: it was installed first
            return ()
        from .client import routes

        return routes()


class PublicFiles(Plugin):
    """``public/``: one GET route per file (``nexpress.pages.public``)."""

    def __init__(self, folder: str, root: str) -> None:
        self.folder = folder
        self.root = root

    def routes(self) -> Sequence[RouteDef]:
        if not os.path.isdir(self.folder):
            return ()
        from .public import public_routes

        return public_routes(self.folder, self.root)
