"""The one seam through which a feature installs itself: ``app.use(plugin)``.

A plugin either declares its routes and middleware when it is installed
(:meth:`Plugin.install`: ``nexpress.auth.Auth``, health, metrics, OpenAPI) or, when
they depend on files read at start-up, generates them each time the app compiles
(:meth:`Plugin.routes`: the ``app/`` folder, ``public/``, the client script, the dev
page). Either way they are ordinary routes in the one table, shown with their source
by ``nexpress routes``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .router import RouteDef, Router


class Plugin:
    """A feature that ``app.use(plugin)`` / ``app.use("/prefix", plugin)`` installs.

    Subclass it and override :meth:`install` (declare routes and middleware on the
    router now) or :meth:`routes` (routes generated when the app compiles)."""

    def install(self, router: Router, prefix: str = "/") -> None:
        """Declare this feature on ``router`` under ``prefix``; by default, register
        :meth:`routes` to be called whenever the app compiles its route table."""
        router.add_generated(prefix, self)

    def routes(self) -> Sequence[RouteDef]:
        """Routes known only at start-up (read from files), mounted under the install
        prefix; called on every compile, so a change on disk shows after a reload."""
        return ()
