"""WebSocket routes: ``App.__call__`` hands every ``websocket`` scope to
:meth:`~nexpress.server.dispatch.Dispatcher.websocket` (the Host check and
``root_path`` handling as HTTP requests, then the route table). WebSocket routes
(method ``WS``, kind ``ws``) live in the one route table, each with an invoker built
here at start-up. This module runs a route's session and says why a connection ends;
the connection's state machine is :class:`~nexpress.http.websocket.WebSocket`'s.

One upgrade, in order:

1. match the path against the table's ``WS`` routes (none: refused with 404);
2. check the Origin header (cross-origin: refused with 403, see
   :func:`~nexpress.http.websocket.origin_allowed`);
3. run the middleware that applies to the path with a ``Request`` built from the
   upgrade (``req.method`` is ``"GET"``) and a ``Response``: one that raises
   ``HTTPError`` or sends a response refuses the upgrade with that status;
4. count the connection against the app's caps (``App.ws_limits``: all sockets of
   the process, and those of one ``req.ip``); over a cap, refused with 503 or 429;
5. call the handler with the ``ws`` object; what ends it decides the close:

   - returns: close 1000 (or, never accepted, refused with 403);
   - the client left (``WebSocketDisconnect``): nothing more to do;
   - ``HTTPError`` before ``accept()``: refused with its status; after: close
     with 4000 + status and its detail as the reason (4403, 4404...);
   - any other exception: logged with its traceback; refused with 500 before
     ``accept()``, close 1011 ("Internal error", nothing more) after;
   - no message either way for ``ws_idle_timeout`` seconds: the handler is
     cancelled (as by ``asyncio.timeout``), then close 1001 (refused with 408
     before ``accept()``).

A refusal is an HTTP response (problem+json) when the server offers the ASGI
``websocket.http.response`` extension (granian and uvicorn do), else a close before
accepting, which the server answers with 403.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..http.context import RequestContext
from ..http.errors import HTTPError, problem
from ..http.request import Request
from ..http.response import Response
from ..http.scope import no_body
from ..http.websocket import (
    Refusal,
    WebSocket,
    WebSocketDisconnect,
    WebSocketLimits,
    allowed_origins,
    origin_allowed,
    refuse_upgrade,
)
from ..http.writer import ROUTE_HEADER, write_bytes
from ..middleware.chain import run_chain

if TYPE_CHECKING:
    from ..routing.table import Route
    from .errors import ErrorLayer

logger = logging.getLogger("nexpress")

_PROBLEM = (b"content-type", b"application/problem+json")


def problem_response(status: int, detail: str | None, headers: dict[str, str] | None = None, route_header: bytes | None = None) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """A refusal's body and headers (problem+json, RFC 9457)."""
    error = HTTPError(status, detail, headers=headers)
    pairs = [_PROBLEM]
    pairs += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in error.headers.items()]
    if route_header is not None:
        pairs.append((ROUTE_HEADER, route_header))
    return problem(status, error.title, detail, None, error.type), pairs


async def refuse(scope: dict, send: Callable, status: int, detail: str | None, headers: dict[str, str] | None = None, route_header: bytes | None = None) -> None:
    body, pairs = problem_response(status, detail, headers, route_header)
    await refuse_upgrade(scope, send, status, body, pairs)


def upgrade_scope(scope: dict) -> dict:
    """The scope the upgrade's ``Request`` reads: a GET over http(s), as it arrived."""
    return {**scope, "method": "GET", "scheme": "https" if scope.get("scheme") == "wss" else "http"}


def request_hosts(req: Request) -> list[str]:
    """Where the client sent the upgrade: Host, and X-Forwarded-Host behind a trusted
    proxy (a browser's WebSocket API cannot set that header, so it cannot be forged
    by the page attempting a cross-site connection)."""
    hosts = [req.get("host") or ""]
    if req.ctx.trust_proxy:
        forwarded = req.get("x-forwarded-host")
        if forwarded:
            hosts.append(forwarded.split(",")[0].strip())
    return hosts


def build_ws_invoker(route: Route, errors: ErrorLayer, ctx: RequestContext) -> Callable:
    """The per-route coroutine ``invoke(scope, receive, send, path, params)``."""
    session = WebSocketEndpoint(route, errors, ctx)

    async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        if scope["type"] != "websocket":  # a plain HTTP request whose method was "WS"
            await _not_http(send, route.route_header)
            return
        await session.run(scope, receive, send, raw_path, params)

    return invoke


async def _not_http(send: Callable, route_header: bytes | None) -> None:
    body, headers = problem_response(400, "WS is not an HTTP method: open a WebSocket to this path", None, route_header)
    await write_bytes(send, 400, headers, body, False)


class WebSocketEndpoint:
    """What one WebSocket route needs per connection, decided at start-up."""

    def __init__(self, route: Route, errors: ErrorLayer, ctx: RequestContext) -> None:
        self.route = route
        self.errors = errors
        self.ctx = ctx
        max_size = route.options.get("max_size", ctx.ws_max_size)
        if not isinstance(max_size, int) or max_size < 0:
            raise ValueError(f"max_size of WebSocket route {route.path} must be a number of bytes (0: no limit)")
        self.max_size = max_size
        self.origins = allowed_origins(ctx.ws_origins)
        self.limits: WebSocketLimits = ctx.ws_limits
        self.route_header = route.route_header
        self.accept_headers = [(ROUTE_HEADER, route.route_header)] if route.route_header else []

    async def run(self, scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        req = Request(upgrade_scope(scope), no_body(), raw_path, params, self.route, self.ctx)
        ws = WebSocket(req, receive, send, self.max_size, self.accept_headers)
        try:
            origin = req.get("origin")
            allowed = origin_allowed(origin, request_hosts(req), req.protocol, self.origins)
            client = req.ip
        except HTTPError as exc:  # an Origin or forwarded header that is not UTF-8
            await self.refuse(ws, exc.status, exc.detail)
            return
        if not allowed:
            await self.refuse(ws, 403, f"Cross-origin WebSocket from {origin} refused; allow it with App(ws_origins=[...])")
            return
        limits = self.limits
        refusal = limits.admit(client)
        if refusal is not None:
            await self.refuse(ws, *refusal)
            return
        try:
            if limits.idle_timeout:
                await self.serve_until_idle(ws, req, raw_path, limits.idle_timeout)
            else:
                await self.serve(ws, req, raw_path)
        finally:
            limits.release(client)

    async def serve_until_idle(self, ws: WebSocket, req: Request, raw_path: str, idle: float) -> None:
        """:meth:`serve`, cancelled once no message went either way for ``idle`` seconds."""
        try:
            async with asyncio.timeout(None) as deadline:
                watch = IdleWatch(ws, deadline, idle)
                try:
                    await self.serve(ws, req, raw_path)
                finally:
                    watch.stop()
        except TimeoutError:
            if not deadline.expired():
                raise
            await ws.end(1001, f"Idle for {idle:g} s", self.problem(408, f"The WebSocket was not accepted within {idle:g} s"))

    async def serve(self, ws: WebSocket, req: Request, raw_path: str) -> None:
        """Run the route's middleware and handler on an admitted connection."""
        route = self.route
        res = Response().bind(req)
        reached = False

        async def endpoint(req: Request, res: Response) -> None:
            nonlocal reached
            reached = True
            await route.handler(ws)

        try:
            if route.middleware:
                await run_chain(route.middleware, endpoint, route.base_depth, req, res, _propagate)
            else:
                await endpoint(req, res)
        except WebSocketDisconnect:
            return
        except HTTPError as exc:
            await self.http_error(ws, exc, req)
            return
        except Exception as exc:
            logger.error("Unhandled error in WebSocket %s", raw_path, exc_info=exc)
            await ws.end(1011, "Internal error", self.problem(500, None))
            return
        await self.finish(ws, res, reached)

    async def finish(self, ws: WebSocket, res: Response, reached: bool) -> None:
        """The chain returned: close an open socket, or answer an upgrade nobody accepted."""
        if reached:
            await ws.end(1000, "", self.problem(403, "The WebSocket handler returned without accepting"))
            return

        async def answered() -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
            # a middleware answered instead of calling next()
            return res.status_code, res.body, self.response_headers(res)

        await ws.end(1000, "", answered)

    async def http_error(self, ws: WebSocket, exc: HTTPError, req: Request) -> None:
        async def error_response() -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
            # the upgrade is refused with the response the app's error layer makes of
            # the error (the route's @app.error handlers, else problem+json)
            res = Response().bind(req)
            await self.errors.respond(exc, req, res, self.route.errors)
            body = res.body if res.body_stream is None and res.file_path is None else b""
            return res.status_code, body, self.response_headers(res)

        refused = await ws.end(4000 + exc.status, exc.detail or exc.title, error_response)
        if not refused and exc.status >= 500:
            logger.error("WebSocket %s -> %s %s", ws.path, exc.status, exc.detail or exc.title)

    def response_headers(self, res: Response) -> list[tuple[bytes, bytes]]:
        """A refusing ``Response``'s headers as ASGI pairs, with the route header."""
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in res.headers]
        if self.route_header is not None:
            headers.append((ROUTE_HEADER, self.route_header))
        return headers

    def problem(self, status: int, detail: str | None, headers: dict[str, str] | None = None) -> Refusal:
        """A refusal with a problem+json body (RFC 9457)."""

        async def refusal() -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
            body, pairs = problem_response(status, detail, headers, self.route_header)
            return status, body, pairs

        return refusal

    async def refuse(self, ws: WebSocket, status: int, detail: str | None, headers: dict[str, str] | None = None) -> None:
        """Refuse a connection not yet handed to middleware (Origin, caps, bad headers)."""
        await ws.end(1008, "", self.problem(status, detail, headers))


class IdleWatch:
    """Expires ``deadline`` (an ``asyncio.timeout``) once ``ws`` has been idle for
    ``idle`` seconds. One timer per connection, moved only when it fires: a message
    costs a clock read, not a timer."""

    __slots__ = ("deadline", "handle", "idle", "loop", "ws")

    def __init__(self, ws: WebSocket, deadline: asyncio.Timeout, idle: float) -> None:
        self.ws = ws
        self.deadline = deadline
        self.idle = idle
        self.loop = asyncio.get_running_loop()
        self.handle = self.loop.call_later(idle, self.check)

    def check(self) -> None:
        left = self.ws.last_activity + self.idle - time.monotonic()
        if left <= 0:
            self.deadline.reschedule(self.loop.time())  # cancels the handler now
        else:
            self.handle = self.loop.call_later(left, self.check)

    def stop(self) -> None:
        self.handle.cancel()


async def _propagate(exc: BaseException, req: Request, res: Response) -> None:
    """WebSocket chains do not turn errors into HTTP responses inside the chain: the
    error reaches the upgrade logic, which refuses or closes the socket."""
    raise exc


__all__ = ["build_ws_invoker", "refuse"]
