"""The one seam through which a feature installs itself: ``app.use(plugin)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .router import Router


class Plugin:
    """A feature that ``app.use(plugin)`` / ``app.use("/prefix", plugin)`` installs by
    declaring routes and middleware on that router (``nexpress.auth.Auth`` is one).
    Subclass it and implement :meth:`install`."""

    def install(self, router: Router, prefix: str) -> None:
        raise NotImplementedError
