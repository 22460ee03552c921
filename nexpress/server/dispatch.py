"""Dispatch: from an ASGI HTTP request to the route that answers it.

1. the raw path is looked up in the table's dict of fully static paths;
2. else its segments walk the segment tree;
3. else: a malformed path is a 400, ``/about/`` redirects (308) to ``/about`` when
   that exists, and the *fallback* runs the global middleware (CORS, logging...)
   around the 404 / 405 / OPTIONS answer (or the app's ``not_found`` handler).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..http.calls import call
from ..http.context import RequestContext
from ..http.errors import BadRequest, HTTPError
from ..http.paths import decode_raw_path, split_path
from ..http.request import Request
from ..http.response import Response
from ..middleware.chain import run_chain
from ..middleware.static import StaticFiles
from ..routing.router import WS
from ..routing.table import Route, RouteTable, Step
from .errors import ErrorLayer
from .invoke import send_result
from .websocket import refuse

__all__ = ["Dispatcher", "Resolution", "request_target", "strip_root_path"]


@dataclass(slots=True)
class Resolution:
    """What the server would do with a request (``nexpress routes URL``): the same
    matcher, redirect and fallback rules as :meth:`Dispatcher.dispatch`."""

    outcome: str  # "route", "redirect", "static-file", "not-allowed", "not-found", "bad-request"
    status: int
    route: Route | None = None
    params: dict[str, Any] = field(default_factory=dict)
    location: str | None = None  # redirect target
    file: str | None = None  # the file a static() middleware would send
    served_by: str | None = None  # that middleware, with where it was declared
    allowed: tuple[str, ...] = ()
    detail: str | None = None


class Dispatcher:
    """The compiled request path of one app: its route table, its error layer and
    what the fallback needs. ``await dispatcher.dispatch(scope, receive, send)``
    answers one HTTP request."""

    __slots__ = ("ctx", "errors", "fallback_errors", "not_found", "static", "table")

    def __init__(
        self,
        table: RouteTable,
        errors: ErrorLayer,
        ctx: RequestContext,
        *,
        app_error_handlers: tuple[Callable, ...] = (),
        not_found: Callable | None = None,
    ) -> None:
        self.table = table
        self.static = table.static
        self.errors = errors
        self.ctx = ctx
        self.fallback_errors = errors.responder(app_error_handlers)
        self.not_found = not_found

    def dispatch(self, scope: dict, receive: Callable, send: Callable) -> Awaitable[None]:
        """The coroutine answering this request (a plain function that returns the
        route's invoker coroutine: the common case costs no extra frame)."""
        try:
            path = request_target(scope)
        except HTTPError as exc:
            return self.answer_error(exc, scope, receive, send, scope.get("path") or "/")
        methods = self.static.get(path)
        if methods is not None:
            route = methods.get(scope["method"])
            if route is not None:
                return route.invoke(scope, receive, send, path, {})
        if "%" not in path and path[:1] == "/" and len(path) > 1:
            found = self.table.match(scope["method"], path[1:].split("/"))
            if found is not None:
                return found[0].invoke(scope, receive, send, path, found[1])
        return self.slow_path(scope, receive, send, path)

    async def websocket(self, scope: dict, receive: Callable, send: Callable) -> None:
        """Answer one ``websocket`` scope: the same Host check and root_path handling
        as HTTP (:func:`request_target`), then the matching ``WS`` route's invoker, or
        a refusal (an HTTP status before accepting)."""
        try:
            path = request_target(scope)
            if not path.startswith("/"):
                raise BadRequest("The request path must start with '/'")
            segs = split_path(path)
        except HTTPError as exc:
            await refuse(scope, send, exc.status, exc.detail)
            return
        found = self.table.match(WS, segs, path[1:].split("/") if path != "/" else [])
        if found is None or found[0].method != WS:  # never an app.all() route
            await refuse(scope, send, 404, f"No WebSocket route for {path}")
            return
        await found[0].invoke(scope, receive, send, path, found[1])

    async def slow_path(self, scope: dict, receive: Callable, send: Callable, path: str) -> None:
        """Everything but a plain hit: the tree, redirects, 404/405/OPTIONS."""
        method = scope["method"]
        try:
            if not path.startswith("/"):
                raise BadRequest("The request path must start with '/'")
            segs = split_path(path)
        except HTTPError as exc:
            await self.answer_error(exc, scope, receive, send, path)
            return
        raw_segs = path[1:].split("/") if path != "/" else []
        found = self.table.match(method, segs, raw_segs)
        if found is not None:
            await found[0].invoke(scope, receive, send, path, found[1])
            return
        location = self.slash_redirect(method, path, scope)
        if location is not None:
            req = Request(scope, receive, path, {}, None, self.ctx)
            res = Response().bind(req).redirect(location, 308)
            await res.write(send, scope)
            return
        await self.fallback(scope, receive, send, path, self.table.allowed(segs, raw_segs))

    def resolve(self, method: str, target: str) -> Resolution:
        """What a ``method`` request for ``target`` (path and query, percent-encoded)
        gets, without running it."""
        path, _, query = target.partition("?")
        try:
            if not path.startswith("/"):
                raise BadRequest("The request path must start with '/'")
            segs = split_path(path)
        except HTTPError as exc:
            return Resolution("bad-request", exc.status, detail=exc.detail)
        raw_segs = path[1:].split("/") if path != "/" else []
        found = self.table.match(method, segs, raw_segs)
        if found is not None:
            route, params = found
            served = _static_file(route.middleware, path)
            if served is not None:  # a static() middleware in the chain answers first
                return Resolution("static-file", 200, route, params, file=served[0], served_by=served[1])
            return Resolution("route", 200, route, params)
        location = self.slash_redirect(method, path, {"query_string": query.encode("latin-1")})
        if location is not None:
            return Resolution("redirect", 308, location=location)
        if method in ("GET", "HEAD"):
            served = _static_file(self.table.fallback, path)
            if served is not None:
                return Resolution("static-file", 200, file=served[0], served_by=served[1])
        allowed = self.table.allowed(segs, raw_segs)
        if allowed:
            return Resolution("not-allowed", 204 if method == "OPTIONS" else 405, allowed=tuple(sorted(allowed)))
        return Resolution("not-found", 404)

    def slash_redirect(self, method: str, path: str, scope: dict) -> str | None:
        """``/about/`` -> ``/about`` (query kept) when that route exists; never to a
        protocol-relative ``//host`` target."""
        if len(path) <= 1 or not path.endswith("/"):
            return None
        stripped = path.rstrip("/")
        if not stripped or stripped.startswith("//") or "\\" in stripped:
            return None
        try:
            segs = split_path(stripped)
        except HTTPError:
            return None
        raw_segs = stripped[1:].split("/")
        if not (self.table.match(method, segs, raw_segs) or self.table.allowed(segs, raw_segs)):
            return None
        qs = scope.get("query_string", b"").decode("latin-1")
        return stripped + ("?" + qs if qs else "")

    async def answer_error(self, exc: HTTPError, scope: dict, receive: Callable, send: Callable, path: str) -> None:
        req = Request(scope, receive, path, {}, None, self.ctx)
        res = Response().bind(req)
        await self.fallback_errors(exc, req, res)
        await res.write(send, scope)

    async def fallback(self, scope: dict, receive: Callable, send: Callable, path: str, allowed: set[str]) -> None:
        """No route matched: global middleware still runs (CORS, logging...) around the
        404 / 405 / OPTIONS answer."""
        req = Request(scope, receive, path, {}, None, self.ctx)
        res = Response().bind(req)
        terminal = self._terminal(scope["method"], path, allowed)
        try:
            await run_chain(self.table.fallback, terminal, 0, req, res, self.fallback_errors)
            res.prepare(req)
        except Exception as exc:
            await self.fallback_errors(exc, req, res)
        await res.write(send, scope)

    def _terminal(self, method: str, path: str, allowed: set[str]) -> Callable:
        not_found = self.not_found

        async def unmatched(req: Request, res: Response) -> None:
            if allowed:
                answer_method_not_allowed(method, allowed, res)
                return
            if not_found is not None:
                result = await call(not_found, req, res)
                if result is not None or not res.sent:
                    send_result(res, result, "not_found handler")
                return
            raise HTTPError(404, f"Nothing here: {method} {path}")

        return unmatched


def _static_file(steps: tuple[Step, ...], path: str) -> tuple[str, str] | None:
    """The file the first ``static()`` middleware of ``steps`` would send for ``path``,
    with that middleware's description."""
    for step in steps:
        if not isinstance(step.fn, StaticFiles) or (step.condition is not None and not step.condition.match(path)):
            continue
        relative = "/" + "/".join(path.split("/")[step.depth + 1 :])
        full = step.fn.resolve(relative)
        if full is not None:
            return full, f"{step.fn!r} ({step.site})"
    return None


def answer_method_not_allowed(method: str, allowed: set[str], res: Response) -> None:
    """OPTIONS: 204 with Allow; any other method: 405 with Allow."""
    methods = set(allowed)
    if "GET" in methods:
        methods.add("HEAD")
    methods.add("OPTIONS")
    allow = ", ".join(sorted(methods))
    if method == "OPTIONS":
        res.status(204).set("allow", allow).end()
        return
    raise HTTPError(405, f"{method} is not allowed here; allowed: {allow}", headers={"allow": allow})


def request_target(scope: dict) -> str:
    """The one scope normalisation of HTTP and WebSocket: the path to route on, still
    percent-encoded, below ``root_path``. Raises ``BadRequest`` for an HTTP/1.1
    request without exactly one non-empty Host (RFC 9112 section 3.2; granian adds an
    empty one when the client sent none) or a path that is not UTF-8."""
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = b"" if host is not None else value
    if not host and scope.get("http_version") == "1.1":
        raise BadRequest("An HTTP/1.1 request needs exactly one non-empty Host header")
    raw = scope.get("raw_path")
    path = decode_raw_path(raw) if raw is not None else quote(scope["path"])
    if scope.get("root_path"):
        return strip_root_path(scope, path)
    return path


def strip_root_path(scope: dict, path: str) -> str:
    """Mounted under a prefix (ASGI: ``path`` includes ``root_path``), route on the
    rest; a server's --root-path behind a prefix-stripping proxy leaves path alone."""
    root = quote(scope["root_path"].rstrip("/"))
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root) :] or "/"
    return path
