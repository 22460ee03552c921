"""``Endpoint``: a route handler given as a typed object by a feature.

Express handlers are plain functions. Features that generate routes (cached pages,
file-routed pages, server actions) hand the route table an :class:`Endpoint`
instead: always called as ``await endpoint(req, res)``, carrying what the table,
``nexpress routes`` and ``nexpress build`` need to know about it, and optionally a
faster invoker for its common case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

Invoker = Callable[[dict, Callable, Callable, str, dict], Awaitable[None]]
"""``invoke(scope, receive, send, raw_path, params)``: how the dispatcher runs a route."""


class Endpoint:
    """Base class of typed route handlers (see the module docstring)."""

    revalidate: int | None = None
    """Seconds before a cached response goes stale (ISR); None when not cached or never stale."""

    response_kind: str = ""
    """What it answers with, for the RESPONSE column of ``nexpress routes`` (``html``,
    ``file``, ``xml``...): its ``__call__`` has no return annotation that says so."""

    async def __call__(self, req: Request, res: Response) -> Any:
        raise NotImplementedError

    def fast_invoker(self, route_header: bytes | None, general: Invoker) -> Invoker | None:
        """An invoker for this endpoint's common case that falls back to ``general``
        (the full path with Request, Response and error handling); None: use ``general``.
        Only offered to routes without middleware."""
        return None
