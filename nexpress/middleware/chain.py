"""Middleware: the base types and the chain runner.

``async def mw(req, res, next)``: ``await next()`` runs the rest of the chain
(later middleware, then the handler) and returns when it is done, so code after
it can still change headers. Not calling ``next()`` ends the chain; the
middleware must then have sent a response (``res.send``, ``res.json``...), or the
request fails with an error naming it.

Errors become responses inside the chain: when the handler or a later middleware
raises (a 404, a validation error, a bug), the error handlers answer right there,
and ``await next()`` returns normally with ``res.status_code`` set to the error's
status. So a logger or timing middleware written as ``await next(); log(res)``
sees every response, 4xx and 5xx included (as Koa users expect); ``res.error``
holds the exception.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response
    from ..routing.table import Step

__all__ = [
    "ErrorResponder",
    "FunctionMiddleware",
    "Middleware",
    "MiddlewareError",
    "MiddlewareFunction",
    "Next",
    "middleware_name",
    "run_chain",
]


class Next(Protocol):
    """The ``next`` a middleware gets: ``await next()`` runs the rest of the chain;
    ``await next(err)`` hands ``err`` to the error handlers (Express's ``next(err)``)."""

    def __call__(self, err: BaseException | None = None) -> Awaitable[None]: ...


MiddlewareFunction = Callable[["Request", "Response", Next], Awaitable[None]]
"""``async def mw(req: Request, res: Response, next: Next) -> None``; a
:class:`Middleware` object has this shape too."""
ErrorResponder = Callable[[BaseException, "Request", "Response"], Awaitable[None]]
"""Turns an exception into the error response on ``res`` (the app's error layer)."""
ShortCircuit = Callable[["Step", "Request", "Response"], None]
"""Told when a middleware seeing every request answered one a route matched (dev)."""


class MiddlewareError(RuntimeError):
    """A middleware broke the chain's contract (e.g. neither sent nor called next)."""


class Middleware:
    """Base class for middleware objects: subclass it and define
    ``async def __call__(self, req, res, next)``. ``app.use`` recognises
    middleware by this type (a plain ``async def mw(req, res, next)`` works too).

    Its ``repr`` is its name in ``nexpress routes URL``, the dev page and error
    messages: the class name unless a subclass says more (the batteries read like
    the call that made them, ``cors(origins='*')``); ``source`` is where it comes
    from when that is not where it was installed. ``openapi_security`` (a
    ``{"SchemeName": {...security scheme object...}}``) tells the OpenAPI document
    that the routes behind it need these credentials (security, a 401 response and
    the scheme in ``components.securitySchemes``)."""

    source: str | None = None
    openapi_security: dict[str, dict[str, Any]] | None = None

    secret_needed: str | None = None
    """What this middleware needs ``App(secret=...)`` for, or None: read once at
    start-up, so a missing secret stops the app there instead of failing a request."""

    async def __call__(self, req: Request, res: Response, next: Next) -> None:
        raise NotImplementedError

    def __repr__(self) -> str:
        return type(self).__name__


class FunctionMiddleware(Middleware):
    """A middleware function with the name and source file the route listing shows
    (a folder's ``middleware.py``, a guard added by a feature)."""

    def __init__(self, fn: Callable[[Request, Response, Next], Awaitable[None]], *, name: str, source: str | None = None) -> None:
        self.fn = fn
        self.name = name
        self.source = source

    async def __call__(self, req: Request, res: Response, next: Next) -> None:
        await self.fn(req, res, next)

    def __repr__(self) -> str:
        return self.name


def middleware_name(fn: Any) -> str:
    """How error messages, ``nexpress routes`` and the dev page name a middleware: a
    :class:`Middleware` by its ``repr``, a function (or bound method) by its
    qualified name, any other callable by its own ``repr`` or else its class."""
    if isinstance(fn, Middleware):
        return repr(fn)
    if isinstance(fn, functools.partial):
        return f"partial({middleware_name(fn.func)})"
    name = getattr(fn, "__qualname__", None)
    if isinstance(name, str):
        return name
    if type(fn).__repr__ is not object.__repr__:
        return repr(fn)
    return type(fn).__qualname__


async def run_chain(
    steps: tuple[Step, ...],
    endpoint: Callable[[Request, Response], Awaitable[None]],
    end_depth: int,
    req: Request,
    res: Response,
    on_error: ErrorResponder,
    on_short_circuit: ShortCircuit | None = None,
) -> None:
    """Run ``steps`` in order around ``endpoint``; an exception below a middleware
    becomes the error response (``on_error``) before its ``await next()`` returns.
    ``on_short_circuit`` (dev) hears of a middleware mounted everywhere that answered
    without calling ``next()``: Express's ``app.use(not_found)`` catch-all habit."""
    count = len(steps)

    async def call(index: int) -> None:
        while index < count:
            step = steps[index]
            if step.condition is None or step.condition.match(req.raw_path):
                break
            index += 1
        else:
            req.mount_depth = end_depth
            await endpoint(req, res)
            return
        depth = step.depth
        called = False

        async def next_(err: BaseException | None = None) -> None:
            nonlocal called
            if called:
                raise MiddlewareError(f"middleware {middleware_name(step.fn)} ({step.site}) called next() twice")
            called = True
            try:
                if err is not None:
                    raise err  # Express's next(err): answered by the error handlers, here
                await call(index + 1)
            except Exception as exc:
                await on_error(exc, req, res)
            req.mount_depth = depth

        req.mount_depth = depth
        await step.fn(req, res, next_)
        if not called:
            if not res.sent:
                raise MiddlewareError(
                    f"middleware {middleware_name(step.fn)} ({step.site}) neither called 'await next()'"
                    " nor sent a response"
                )
            if step.everywhere and on_short_circuit is not None:
                on_short_circuit(step, req, res)

    await call(0)
