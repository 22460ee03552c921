"""The hot path: per-route invokers chosen at start-up, and response writing.

Each compiled route gets an ``invoke(scope, receive, send, raw_path, params)``
coroutine specialised for its shape (middleware or not, ``(req)`` or
``(req, res)``, sync or async), so nothing is decided per request that could be
decided once.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import msgspec

from ..errors import HTTPError
from ..middleware import run_chain
from ..request import Request
from ..response import HTML, JSON, Response, encode_body
from ..static import plan_file

if TYPE_CHECKING:
    from ..app import App
    from ..routing.table import Route

_encode_json = msgspec.json.Encoder().encode

START = "http.response.start"
BODY = "http.response.body"
CT = b"content-type"
CL = b"content-length"
CT_JSON = JSON.encode()
CT_HTML = HTML.encode()
_NO_BODY_STATUS = frozenset((204, 304)) | frozenset(range(100, 200))
_CHUNK = 256 * 1024


class NoResponseError(RuntimeError):
    """A handler returned None without sending anything."""


def _handler_name(route: Route) -> str:
    return route.source


async def call_handler(route: Route, req: Request, res: Response) -> Any:
    handler = route.handler
    if route.is_async:
        if route.arity == 1:
            return await handler(req)
        return await handler(req, res)
    if route.arity == 1:
        return await asyncio.to_thread(handler, req)
    return await asyncio.to_thread(handler, req, res)


def adopt(res: Response, result: Response) -> None:
    """Make ``res`` carry a returned Response, keeping headers set earlier on ``res``."""
    if result is res:
        return
    names = {k for k, _ in result._headers if k != b"set-cookie"}
    res._headers = [h for h in res._headers if h[0] not in names] + result._headers
    res.status_code = result.status_code
    res._body = result._body
    res._stream = result._stream
    res._file = result._file
    res.sent = True


def apply_result(route: Route, res: Response, result: Any) -> None:
    """Send what a handler returned, unless it already sent a response."""
    if result is None:
        if not res.sent:
            raise NoResponseError(
                f"handler {route.source} returned None without sending a response;"
                " return a value (dict, str, Response...) or call res.send()/res.json()"
            )
        return
    if isinstance(result, Response):
        adopt(res, result)
        return
    if res.sent:
        return
    body, content_type = encode_body(result)
    res._finish(body, content_type)


def endpoint_for(route: Route) -> Callable:
    if route.plan is not None:
        return typed_endpoint(route)

    async def endpoint(req: Request, res: Response) -> None:
        apply_result(route, res, await call_handler(route, req, res))

    return endpoint


def typed_endpoint(route: Route) -> Callable:
    """A typed handler (nexpress._typed): its plan decodes, validates and calls it."""
    call = route.plan.endpoint

    async def endpoint(req: Request, res: Response) -> None:
        apply_result(route, res, await call(req, res))

    return endpoint


def encode_headers(res: Response, route_header: bytes | None) -> list[tuple[bytes, bytes]]:
    headers = res._headers  # already bytes; the response is finished, so extend in place
    if route_header is not None:
        headers.append((b"x-nexpress-route", route_header))
    return headers


async def write_response(
    res: Response, req: Request, send: Callable, route_header: bytes | None
) -> None:
    """Write a finished Response to the ASGI ``send`` callable."""
    head = req.scope["method"] == "HEAD"
    status = res.status_code
    if res._file is not None:
        await _write_file(res, req, send, route_header, head)
        return
    if res._stream is not None:
        await _write_stream(res, send, route_header, head)
        return
    body = res._body
    headers = encode_headers(res, route_header)
    if status in _NO_BODY_STATUS:
        body = b""
    else:
        headers.append((CL, str(len(body)).encode()))
    await send({"type": START, "status": status, "headers": headers})
    await send({"type": BODY, "body": b"" if head else body})


async def _write_stream(res: Response, send: Callable, route_header: bytes | None, head: bool) -> None:
    await send({"type": START, "status": res.status_code, "headers": encode_headers(res, route_header)})
    if head:
        await send({"type": BODY, "body": b""})
        return
    content = res._stream
    try:
        if hasattr(content, "__aiter__"):
            async for chunk in content:
                if chunk:
                    await send({"type": BODY, "body": chunk.encode() if isinstance(chunk, str) else bytes(chunk), "more_body": True})
        else:
            iterator = iter(content)
            sentinel = object()
            while True:
                chunk = await asyncio.to_thread(next, iterator, sentinel)
                if chunk is sentinel:
                    break
                if chunk:
                    await send({"type": BODY, "body": chunk.encode() if isinstance(chunk, str) else bytes(chunk), "more_body": True})
    finally:
        close = getattr(content, "aclose", None)
        if close is not None:
            await close()
    await send({"type": BODY, "body": b""})


async def _write_file(res: Response, req: Request, send: Callable, route_header: bytes | None, head: bool) -> None:
    plan = res._file_plan  # type: ignore[attr-defined]
    status = plan.status
    for name, value in plan.headers:
        if res.get(name) is None:
            res._headers.append((name.encode("latin-1"), value.encode("latin-1")))
    if status == 200 and res.status_code != 200:
        status = res.status_code
    headers = encode_headers(res, route_header)
    if status in (304,):
        await send({"type": START, "status": status, "headers": headers})
        await send({"type": BODY, "body": b""})
        return
    headers.append((CL, str(plan.length).encode()))
    await send({"type": START, "status": status, "headers": headers})
    if head or plan.length == 0:
        await send({"type": BODY, "body": b""})
        return
    if (
        plan.status == 200
        and "http.response.pathsend" in req.scope.get("extensions", {})
    ):
        await send({"type": "http.response.pathsend", "path": plan.path})
        return
    if plan.length <= _CHUNK:
        with open(plan.path, "rb") as fh:
            fh.seek(plan.offset)
            await send({"type": BODY, "body": fh.read(plan.length)})
        return
    loop = asyncio.get_running_loop()
    with open(plan.path, "rb") as fh:
        fh.seek(plan.offset)
        remaining = plan.length
        while remaining > 0:
            chunk = await loop.run_in_executor(None, fh.read, min(_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await send({"type": BODY, "body": chunk, "more_body": remaining > 0})
        if remaining > 0:
            await send({"type": BODY, "body": b""})


def prepare(res: Response, req: Request) -> None:
    """Work that may still fail with an HTTP error, done before anything is written."""
    if res._file is not None:
        res._file_plan = plan_file(res._file, req.headers, res.get("content-type"))  # type: ignore[attr-defined]


def build_invoker(route: Route, app: App) -> Callable:
    """Choose the cheapest correct way to run ``route`` per request."""
    if route.mount is not None:
        return functools.partial(_invoke_mount, route, app)
    handler = route.handler
    route_header = route.route_header
    direct = route.plan.request_endpoint if route.plan is not None else (handler if route.arity == 1 and route.is_async else None)
    if not route.middleware and direct is not None and route_header is None:
        return _fast_invoker(route, app, direct)

    endpoint = endpoint_for(route)
    steps = route.middleware
    depth = route.base_depth
    invoke = _general_invoker(route, app, endpoint, steps, depth, route_header)
    # A handler may bring a faster path for its common case (cache hits), falling back
    # to the general invoker for everything else.
    fast = getattr(handler, "__nexpress_fast_invoker__", None)
    if fast is not None and not steps:
        return fast(route_header, invoke)
    return invoke


def _general_invoker(route: Route, app: App, endpoint: Callable, steps: tuple, depth: int, route_header: bytes | None) -> Callable:

    async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        req = Request(scope, receive, raw_path, params, route, app)
        res = Response()
        res._request = req
        try:
            if steps:
                await run_chain(steps, endpoint, depth, req, res)
            else:
                await endpoint(req, res)
            if res._file is not None:
                prepare(res, req)
        except Exception as exc:
            res = await app._handle_error(exc, req, res, route.errors)
            if res is None:
                return
        await write_response(res, req, send, route_header)

    return invoke


def _fast_invoker(route: Route, app: App, handler: Callable) -> Callable:
    """``async def h(req)`` with no middleware: no Response object unless needed."""

    async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        req = Request(scope, receive, raw_path, params, route, app)
        try:
            result = await handler(req)
            cls = result.__class__
            if cls is dict or cls is list:
                body = _encode_json(result)
                content_type = CT_JSON
            elif cls is str:
                body = result.encode()
                content_type = CT_HTML
            elif cls is Response and result._file is None:
                await write_response(result, req, send, None)
                return
            else:
                res = Response()
                res._request = req
                apply_result(route, res, result)
                prepare(res, req)
                await write_response(res, req, send, None)
                return
        except Exception as exc:
            res = await app._handle_error(exc, req, Response(), route.errors)
            if res is not None:
                await write_response(res, req, send, None)
            return
        await send(
            {
                "type": START,
                "status": 200,
                "headers": [(CT, content_type), (CL, str(len(body)).encode())],
            }
        )
        await send({"type": BODY, "body": b"" if scope["method"] == "HEAD" else body})

    return invoke


async def _invoke_mount(route: Route, app: App, scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
    """Hand the request to a mounted ASGI app, with the prefix moved to root_path."""
    # As Starlette's Mount does: ``path`` stays whole, ``root_path`` gains the prefix.
    depth = route.base_depth
    prefix = "/".join(raw_path.split("/", depth + 1)[: depth + 1])
    child = dict(scope)
    child["root_path"] = scope.get("root_path", "") + unquote(prefix)
    await route.mount(child, receive, send)


__all__ = ["HTTPError", "build_invoker", "write_response"]
