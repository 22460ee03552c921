"""Static and ISR responses served from the cache, stale-while-revalidate.

A cached route is rendered with a *bare* request: its path and params only, no
headers, cookies, query string or client address. So a cached page can never
hold one visitor's data, a forged ``Host``/``X-Forwarded-Host`` header cannot
poison it, and ``?anything`` cannot make a new entry or force a regeneration.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

from . import Cache, Entry, api_key, collect_tags, page_key, stop_collecting
from .stores import MemoryStore

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response

HEADER = b"x-nexpress-cache"
_KEEP_HEADERS = ("content-type",)


async def _empty_body() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


def bare_request(app: Any, path: str, params: dict[str, Any]) -> Request:
    """A request carrying nothing but the path: what cached renders see."""
    from ..request import Request

    raw = quote(path, safe="/!$&'()*+,;=:@-._~")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": raw.encode("ascii"),
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "client": None,
        "server": None,
        "nexpress.bare": True,
    }
    return Request(scope, _empty_body, raw, dict(params), None, app)


async def render_entry(app: Any, endpoint: Callable, path: str, params: dict[str, Any], revalidate: int | None) -> Entry | None:
    """Render ``endpoint`` for ``path`` with a bare request; an Entry for a 200, else None."""
    from .._asgi import apply_result
    from ..response import Response

    req = bare_request(app, path, params)
    res = Response()
    res._request = req
    token, tags = collect_tags()
    try:
        result = await endpoint(req, res)
        if result is not None or not res.sent:
            apply_result(_Named(endpoint), res, result)
    finally:
        stop_collecting(token)
    if res.status_code != 200 or res._file is not None:
        return None
    body = res._body
    if res._stream is not None:
        body = b"".join([chunk if isinstance(chunk, bytes) else chunk.encode() async for chunk in _aiter(res._stream)])
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in res._headers if k.decode("latin-1") in _KEEP_HEADERS]
    return Entry(body=body, status=200, headers=headers, created=time.time(), revalidate=revalidate, tags=sorted(tags))


class _Named:
    """Just enough of a Route for apply_result's error message."""

    def __init__(self, endpoint: Callable) -> None:
        self.source = getattr(endpoint, "__qualname__", repr(endpoint))


async def _aiter(content: Any):
    if hasattr(content, "__aiter__"):
        async for chunk in content:
            yield chunk
    else:
        for chunk in content:
            yield chunk


def canonical_path(raw: str) -> str:
    """One cache key per page however its path is spelled (``/%69sr`` is ``/isr``),
    while an encoded ``/`` inside a segment stays distinct (``/docs/a%2Fb`` is not
    ``/docs/a/b``): decode each segment, then re-escape only ``%`` and ``/``."""
    return "/".join(unquote(seg).replace("%", "%25").replace("/", "%2F") for seg in raw.split("/"))


@lru_cache(maxsize=1024)
def _encoded(name: str, value: str) -> tuple[bytes, bytes]:
    return name.encode("latin-1"), value.encode("latin-1")


def send_entry(res: Response, entry: Entry, state: bytes) -> None:
    res.status_code = entry.status
    headers = res._headers
    for name, value in entry.headers:
        headers.append(_encoded(name, value))
    headers.append((HEADER, state))
    res._body = entry.body
    res.sent = True


def as_endpoint(fn: Callable) -> Callable:
    """Any handler shape ((req) or (req, res), sync or async) as ``async (req, res)``."""
    import asyncio
    import inspect

    from ..routing import positional_arity

    takes_res = positional_arity(fn) >= 2
    if inspect.iscoroutinefunction(fn):
        if takes_res:
            return fn

        async def call_async(req: Request, res: Response) -> Any:
            return await fn(req)

        return call_async

    async def call_sync(req: Request, res: Response) -> Any:
        return await asyncio.to_thread(fn, req, res) if takes_res else await asyncio.to_thread(fn, req)

    return call_sync


def cached_endpoint(
    app: Any,
    endpoint: Callable,
    *,
    revalidate: int | None,
    api: bool = False,
    static_params: Callable | None = None,
) -> Callable:
    """Wrap a page (or API GET) endpoint so it is served from ``app.cache``."""
    make_key = api_key if api else page_key
    endpoint = as_endpoint(endpoint)

    async def serve_cached(req: Request, res: Response) -> None:
        cache: Cache = app.cache
        raw = req.raw_path
        if "%" in raw:
            path = unquote(raw)
            key = make_key(canonical_path(raw))
        else:
            path = raw
            key = make_key(raw)
        entry = await cache.get(key)
        if entry is not None:
            if entry.revalidate is not None and time.time() - entry.created >= entry.revalidate:
                params = req.params
                cache.regenerate_soon(key, lambda: render_entry(app, endpoint, path, params, revalidate))
                send_entry(res, entry, b"STALE")
            else:
                send_entry(res, entry, b"PRERENDER" if entry.prerendered else b"HIT")
            return None

        async def produce() -> Entry:
            generation = await cache.generation()
            fresh = await render_entry(app, endpoint, path, req.params, revalidate)
            if fresh is None:
                raise _NotCacheable()
            # an invalidation meanwhile, here or on another instance: serve it, don't store it
            if generation == await cache.generation():
                await cache.set(key, fresh)
            return fresh

        try:
            entry = await cache.single_flight(key, produce)
        except _NotCacheable:
            # not a 200 (a redirect, a Response of another status): not cached, sent as is
            return await endpoint(req, res)
        send_entry(res, entry, b"MISS")
        return None

    def fast_invoker(route_header: bytes | None, general: Callable) -> Callable:
        """Fresh hits from the memory store are written straight from the cache:
        pre-encoded headers, no Request or Response object."""
        wire: dict[str, tuple[Entry, list]] = {}
        extra = [(b"x-nexpress-route", route_header)] if route_header is not None else []

        async def invoke(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
            store = app.cache.store
            if "%" not in raw_path and isinstance(store, MemoryStore):
                key = make_key(raw_path)
                entry = store.get_now(key)
                if entry is not None and (entry.revalidate is None or time.time() - entry.created < entry.revalidate):
                    cached_wire = wire.get(key)
                    if cached_wire is None or cached_wire[0] is not entry:
                        state = b"PRERENDER" if entry.prerendered else b"HIT"
                        headers = [_encoded(k, v) for k, v in entry.headers]
                        headers += [(HEADER, state), *extra, (b"content-length", str(len(entry.body)).encode())]
                        if len(wire) > 4096:
                            wire.clear()
                        cached_wire = wire[key] = (entry, headers)
                    await send({"type": "http.response.start", "status": entry.status, "headers": cached_wire[1]})
                    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else entry.body})
                    return
            await general(scope, receive, send, raw_path, params)

        return invoke

    serve_cached.__nexpress_fast_invoker__ = fast_invoker  # type: ignore[attr-defined]
    serve_cached.__qualname__ = getattr(endpoint, "__qualname__", "cached")
    serve_cached.__nexpress_cached__ = True  # type: ignore[attr-defined]
    # what `nexpress build` needs to prerender it
    serve_cached.__nexpress_render__ = endpoint  # type: ignore[attr-defined]
    serve_cached.__nexpress_revalidate__ = revalidate  # type: ignore[attr-defined]
    serve_cached.__nexpress_static_params__ = static_params  # type: ignore[attr-defined]
    serve_cached.__nexpress_api__ = api  # type: ignore[attr-defined]
    return serve_cached


class _NotCacheable(Exception):
    pass
