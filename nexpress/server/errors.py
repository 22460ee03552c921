"""The error layer: turns an exception into the error response, on the ``res`` of
the request that failed. Built once per compiled app from plain settings (debug,
root, the file routes' error pages), so the hot path never calls back into ``App``.

Order: the route's ``@app.error`` handlers innermost-first (the first that sends
wins; one may raise another error to pass it on), then the default: RFC 9457
problem+json for API and Express routes, the nearest ``not-found.html`` /
``error.html`` for pages, each switching when the client ranks the other type
higher in ``Accept``.
"""

from __future__ import annotations

import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..http.calls import call
from ..http.errors import HTTPError, failing_frame, html_page, problem
from ..http.negotiation import prefers_html
from ..http.request import ClientDisconnect
from ..http.response import HTML, Response
from ..middleware.chain import MiddlewareError, middleware_name
from ..routing.table import PAGE_KINDS, RouteKind

if TYPE_CHECKING:
    from ..http.request import Request

logger = logging.getLogger("nexpress")

PROBLEM = "application/problem+json"
_FRAMEWORK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep  # nexpress/


class NoResponseError(RuntimeError):
    """A handler returned None without sending anything."""


class ErrorPages(Protocol):
    """Where HTML error pages come from (the file routes' ``error.html`` /
    ``not-found.html``, rendered inside their layouts)."""

    async def error_page(self, status: int, title: str, detail: str | None, req: Request) -> str | None: ...


def is_page_kind(kind: RouteKind) -> bool:
    """Pages answer errors in HTML by default."""
    return kind in PAGE_KINDS


@dataclass(slots=True)
class ErrorLayer:
    debug: bool
    root: str
    pages: ErrorPages | None = None
    warned: set[int] = field(default_factory=set)  # middleware already warned about

    def short_circuit_warner(self) -> Callable[[Any, Request, Response], None] | None:
        """In debug, :meth:`warn_short_circuit`; in production nothing is checked."""
        return self.warn_short_circuit if self.debug else None

    def warn_short_circuit(self, step: Any, req: Request, res: Response) -> None:
        """A warning (once per middleware) when middleware mounted on every path
        answered a request a route matched without calling ``next()``: in Express,
        ``app.use(not_found)`` declared last is a catch-all; here middleware applies
        whatever its order, so it would answer every route."""
        if id(step.fn) in self.warned:
            return
        self.warned.add(id(step.fn))
        route = req.route
        logger.warning(
            "middleware %s (%s) answered %s %s with %s without calling next(), so the matching route"
            " %s did not run. Middleware applies to every route whatever its order; for a"
            " not-found page use app.not_found(handler).",
            middleware_name(step.fn), step.site, req.method, req.raw_path,
            res.status_code, route.source if route is not None else "(none)",
        )  # fmt: skip

    def responder(self, handlers: tuple[Callable, ...]) -> Callable[[BaseException, Request, Response], Any]:
        """``on_error(exc, req, res)`` for a route whose error handlers are ``handlers``."""

        async def on_error(exc: BaseException, req: Request, res: Response) -> None:
            await self.respond(exc, req, res, handlers)

        return on_error

    async def respond(self, exc: BaseException, req: Request, res: Response, handlers: tuple[Callable, ...]) -> None:
        """Make ``res`` the error response for ``exc`` (never raises)."""
        if isinstance(exc, ClientDisconnect):
            # either the client left (the answer goes nowhere) or the server gave up on
            # a malformed body (e.g. bad chunked framing): answer 400 for the latter
            exc = HTTPError(400, "The request body was incomplete or malformed")
        err: BaseException = exc
        res.reset_for_error(_status_of(err), err)
        for handler in handlers:
            try:
                result = await call(handler, err, req, res)
                if result is not None and not res.sent:
                    if isinstance(result, Response):
                        res.adopt(result)
                    else:
                        res.send(result)
                if res.sent:
                    res.prepare(req)
                    return
            except Exception as new:  # a handler may raise another error to pass it on
                if new is not err:
                    err = new
                    res.reset_for_error(_status_of(new), new)
        await self.default(err, req, res)

    async def default(self, err: BaseException, req: Request, res: Response) -> None:
        """The built-in error response: problem+json or an HTML page."""
        res.reset_for_error(_status_of(err), err)
        if isinstance(err, HTTPError):
            status, title, detail, extra = err.status, err.title, err.detail, err.fields
            for name, value in err.headers.items():
                res.set(name, value)
            trace = None
            if status >= 500:
                logger.error("%s %s -> %s %s", req.method, req.raw_path, status, detail or title)
        else:
            status, title, extra = 500, "Internal Server Error", {}
            logger.error("Unhandled error in %s %s", req.method, req.raw_path, exc_info=err)
            detail = trace = None
            if self.debug:
                detail = str(err) if isinstance(err, (NoResponseError, MiddlewareError)) else f"{type(err).__name__}: {err}"
                trace = "".join(traceback.format_exception(err))
        if self._wants_html(req):
            page = await self._html(status, title, detail, trace, err, req, res)
            res.type(HTML).end(page)
        else:
            if trace:
                extra = {**extra, "traceback": trace.splitlines()}
            error_type = err.type if isinstance(err, HTTPError) else "about:blank"
            instance = req.raw_path if req.route is None else None
            res.type(PROBLEM).end(problem(status, title, detail, instance, error_type, extra))

    def _wants_html(self, req: Request) -> bool:
        route = req.route
        page = is_page_kind(route.kind) if route is not None else self.pages is not None
        return prefers_html(req.headers.raw_get(b"accept"), page)

    async def _html(
        self, status: int, title: str, detail: str | None, trace: str | None, err: BaseException, req: Request, res: Response
    ) -> bytes:
        if trace is not None:  # debug: the traceback and the failing source, not a pretty page
            frame = failing_frame(err, _FRAMEWORK_DIR)
            excerpt = f"{os.path.relpath(frame[0], self.root)}:{frame[1]}\n{frame[2]}" if frame else None
            return html_page(status, title, detail, trace, req.route.source if req.route else None, excerpt)
        if self.pages is not None:
            try:
                page = await self.pages.error_page(status, title, detail, req, res)
            except Exception:
                logger.exception("rendering the error page for %s failed", req.raw_path)
                page = None
            if page is not None:
                return page.encode("utf-8")
        return html_page(status, title, detail)


def _status_of(err: BaseException) -> int:
    return err.status if isinstance(err, HTTPError) else 500
