"""Per-route invokers, chosen once at start-up.

Each compiled route gets an ``invoke(scope, receive, send, raw_path, params)``
coroutine specialised for its shape (middleware or not, ``(req)`` or
``(req, res)``, sync or async, an :class:`Endpoint` with a fast path), so nothing
is decided per request that could be decided once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import msgspec

from ..http import writer as _wire
from ..http.context import RequestContext
from ..http.request import Request
from ..http.response import PER_VISITOR_CACHE_CONTROL, Response
from ..middleware.chain import run_chain
from ..routing.endpoint import Endpoint, Invoker
from .errors import ErrorLayer, NoResponseError
from .websocket import build_ws_invoker

if TYPE_CHECKING:
    from ..routing.table import Route

__all__ = ["build_invoker", "handler_endpoint", "send_result"]

_encode_json = msgspec.json.Encoder().encode

Endpoint_ = Callable[[Request, Response], Awaitable[None]]


# --- what a handler returned ----------------------------------------------------------


def send_result(res: Response, result: Any, source: str, none_is_empty: bool = False) -> None:
    """Send what a handler returned, unless it already sent a response:
    a value, a Response, or ``(body, status)`` / ``(body, status, headers)``.
    ``none_is_empty``: the route declared a status without a body (``status=204``),
    so ``None`` is that empty response rather than a forgotten ``res.send()``."""
    if result is None:
        if not res.sent:
            if none_is_empty:
                res.end()
                return
            raise NoResponseError(
                f"handler {source} returned None without sending a response;"
                " return a value (dict, str, Response...) or call res.send()/res.json()"
            )
        return
    if result.__class__ is tuple:
        _send_tuple(res, result, source)
        return
    if isinstance(result, Response):
        res.adopt(result)
        return
    if not res.sent:
        res.send(result)


def _send_tuple(res: Response, value: tuple, source: str) -> None:
    if not 2 <= len(value) <= 3 or value[1].__class__ is not int or (len(value) == 3 and not isinstance(value[2], dict)):
        raise TypeError(
            f"handler {source} returned a tuple of {len(value)}: return (body, status) or"
            " (body, status, headers_dict), or a list for a JSON array"
        )
    body, status = value[0], value[1]
    if isinstance(body, Response):
        res.adopt(body)
    elif body is None:
        res.end()
    elif not res.sent:
        res.send(body)
    res.status(status)
    if len(value) == 3:
        res.set(value[2])


# --- handlers as (req, res) endpoints -----------------------------------------------------


def handler_endpoint(route: Route) -> Endpoint_:
    """The route's handler as ``await endpoint(req, res)`` that sends its result."""
    handler = route.handler
    source = route.source
    if route.plan is not None:  # typed body/query: the plan decodes, validates and calls
        typed = route.plan.endpoint
        empty = route.plan.status in _wire.NO_BODY_STATUS

        async def call_typed(req: Request, res: Response) -> None:
            result = await typed(req, res)
            if result is not None or not res.sent:
                send_result(res, result, source, empty)

        return call_typed
    if route.is_async and route.arity == 1:

        async def call_req(req: Request, res: Response) -> None:
            send_result(res, await handler(req), source)

        return call_req
    if route.is_async:

        async def call_req_res(req: Request, res: Response) -> None:
            result = await handler(req, res)
            if result is not None or not res.sent:
                send_result(res, result, source)

        return call_req_res
    takes_res = route.arity != 1

    async def call_in_thread(req: Request, res: Response) -> None:
        args = (req, res) if takes_res else (req,)
        result = await asyncio.to_thread(handler, *args)
        if result is not None or not res.sent:
            send_result(res, result, source)

    return call_in_thread


# --- invokers --------------------------------------------------------------------------


def build_invoker(route: Route, errors: ErrorLayer, ctx: RequestContext) -> Invoker:
    """Choose the cheapest correct way to run ``route`` per request."""
    if route.mount is not None:
        return MountInvoker(route)
    if route.kind == "ws":
        return build_ws_invoker(route, errors, ctx)
    extra = [(_wire.ROUTE_HEADER, route.route_header)] if route.route_header is not None else None
    on_error = errors.responder(route.errors)
    handler = route.handler
    if route.middleware:
        return chain_invoker(route, ctx, handler_endpoint(route), on_error, extra, errors.short_circuit_warner())
    if isinstance(handler, Endpoint):
        general = endpoint_invoker(route, ctx, handler_endpoint(route), on_error, extra)
        return handler.fast_invoker(route.route_header, general) or general
    if extra is None:
        plan = route.plan
        if plan is not None and plan.request_endpoint is not None and 200 <= plan.status < 300 and plan.status != 204:
            return return_value_invoker(route, ctx, on_error, plan.request_endpoint, plan.status)
        if route.plan is None and route.is_async and route.arity == 1:
            return return_value_invoker(route, ctx, on_error, handler, 200)
    if route.plan is None and route.is_async and route.arity != 1:
        return express_invoker(route, ctx, on_error, extra)
    return endpoint_invoker(route, ctx, handler_endpoint(route), on_error, extra)


def chain_invoker(route: Route, ctx: RequestContext, endpoint: Endpoint_, on_error: Callable, extra: list | None, warn: Callable | None = None) -> Invoker:
    """Middleware, then the handler; errors become responses inside the chain."""
    steps = route.middleware
    depth = route.base_depth

    async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        req = Request(scope, receive, raw_path, params, route, ctx)
        res = Response().bind(req)
        try:
            await run_chain(steps, endpoint, depth, req, res, on_error, warn)
            res.prepare(req)
        except Exception as exc:
            await on_error(exc, req, res)
        await res.write(send, scope, extra)

    return invoke


def endpoint_invoker(route: Route, ctx: RequestContext, endpoint: Endpoint_, on_error: Callable, extra: list | None) -> Invoker:
    """No middleware: the handler with a Request and a Response."""

    async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        req = Request(scope, receive, raw_path, params, route, ctx)
        res = Response().bind(req)
        try:
            await endpoint(req, res)
            res.prepare(req)
        except Exception as exc:
            await on_error(exc, req, res)
        await res.write(send, scope, extra)

    return invoke


def express_invoker(route: Route, ctx: RequestContext, on_error: Callable, extra: list | None) -> Invoker:
    """``async def h(req, res)`` with no middleware and no typed plan, Express's idiom
    (``res.type(...).send(...)``): the handler called right here, no endpoint wrapper
    (bench/profile_case.py ``express``: 33,684 -> 32,594 instructions per request)."""
    handler = route.handler
    source = route.source

    async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        req = Request(scope, receive, raw_path, params, route, ctx)
        res = Response().bind(req)
        try:
            result = await handler(req, res)
            if result is not None or not res.sent:
                send_result(res, result, source)
            res.prepare(req)
        except Exception as exc:
            await on_error(exc, req, res)
        await res.write(send, scope, extra)

    return invoke


def return_value_invoker(route: Route, ctx: RequestContext, on_error: Callable, handler: Callable, status: int) -> Invoker:
    """``async def h(req)`` with no middleware (``handler``: it, or its typed plan's
    ``async (req)`` form): a dict or str result is written straight to ASGI with
    ``status``, with no Response object."""
    source = route.source
    empty = status in _wire.NO_BODY_STATUS  # status=204: None is the empty answer

    async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        req = Request(scope, receive, raw_path, params, route, ctx)
        try:
            result = await handler(req)
            cls = result.__class__
            if cls is dict or cls is list:
                body = _encode_json(result)
                content_type = _wire.CT_JSON
            elif cls is str:
                body = result.encode()
                content_type = _wire.CT_HTML
            elif cls is Response:  # written as returned, never changed: it may be module-level
                await result.write_returned(req, send, scope)
                return
            else:
                res = Response(status=status).bind(req)
                send_result(res, result, source, empty)
                res.prepare(req)
                await res.write(send, scope)
                return
        except Exception as exc:
            res = Response().bind(req)
            await on_error(exc, req, res)
            await res.write(send, scope)
            return
        # the hottest path writes its two messages itself (a call to _wire costs ~5% of
        # this route's time); only the rules of a 2xx with a body apply here
        headers = [content_type, (_wire.CONTENT_LENGTH, str(len(body)).encode())]
        if req.per_visitor:  # it read req.auth, cookies or the session: no shared cache
            headers.append(PER_VISITOR_CACHE_CONTROL)
        await send({"type": _wire.START, "status": status, "headers": headers})
        await send({"type": _wire.BODY, "body": b"" if scope["method"] == "HEAD" else body})

    return invoke


class MountInvoker:
    """Hand the request to a mounted ASGI app, with the prefix moved to ``root_path``
    (as Starlette's ``Mount`` does: ``path`` stays whole)."""

    __slots__ = ("app", "depth")

    def __init__(self, route: Route) -> None:
        self.app = route.mount
        self.depth = route.base_depth

    async def __call__(self, scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        prefix = "/".join(raw_path.split("/", self.depth + 1)[: self.depth + 1])
        child = dict(scope)
        child["root_path"] = scope.get("root_path", "") + unquote(prefix)
        await self.app(child, receive, send)
