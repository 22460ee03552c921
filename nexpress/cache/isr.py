"""Static and ISR responses served from the cache, stale-while-revalidate.

A cached route is rendered with a *bare* request: its path and params only, no
headers, cookies, query string or client address. So a cached page can never
hold one visitor's data, a forged ``Host``/``X-Forwarded-Host`` header cannot
poison it, and ``?anything`` cannot make a new entry or force a regeneration.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote, unquote

from .. import _wire
from .._asgi import send_result
from .._call import call
from .._http import URL_PATH_SAFE, http_scope
from ..request import Request
from ..response import Response
from ..routing import positional_arity
from ..routing.endpoint import Endpoint, Invoker
from . import Cache, Entry, api_key, collect_tags, page_key, stop_collecting
from .stores import MemoryStore

__all__ = ["CachedEndpoint", "ResponseFinish", "bare_request", "canonical_path", "render_entry"]

HEADER = b"x-nexpress-cache"
_KEEP_HEADERS = ("content-type",)

RenderFn = Callable[[Request, Response], Awaitable[Any]]


async def _empty_body() -> dict:
    return {"type": "http.request", "body": b"", "more_body": False}


def bare_request(app: Any, path: str, params: dict[str, Any]) -> Request:
    """A request carrying nothing but the path: what cached renders see."""
    raw = quote(path, safe=URL_PATH_SAFE)
    scope = http_scope("GET", raw.encode("ascii"))
    scope["nexpress.bare"] = True
    return Request(scope, _empty_body, raw, dict(params), None, app)


async def _joined(content: Any) -> bytes:
    chunks = []
    if hasattr(content, "__aiter__"):
        async for chunk in content:
            chunks.append(chunk)
    else:
        chunks.extend(content)
    return b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)


async def render_entry(app: Any, render: RenderFn, path: str, params: dict[str, Any], revalidate: int | None, source: str = "page") -> Entry | None:
    """Render for ``path`` with a bare request; an Entry for a 200, else None."""
    req = bare_request(app, path, params)
    res = Response(request=req)
    token, tags = collect_tags()
    try:
        result = await render(req, res)
        if result is not None or not res.sent:
            send_result(res, result, source)
    finally:
        stop_collecting(token)
    if res.status_code != 200 or res.file_path is not None:
        return None
    body = res.body if res.body_stream is None else await _joined(res.body_stream)
    headers = [(name, value) for name, value in res.headers if name in _KEEP_HEADERS]
    return Entry(body=body, status=200, headers=headers, created=time.time(), revalidate=revalidate, tags=sorted(tags))


def canonical_path(raw: str) -> str:
    """One cache key per page however its path is spelled (``/%69sr`` is ``/isr``),
    while an encoded ``/`` inside a segment stays distinct (``/docs/a%2Fb`` is not
    ``/docs/a/b``): decode each segment, then re-escape only ``%`` and ``/``."""
    return "/".join(unquote(seg).replace("%", "%25").replace("/", "%2F") for seg in raw.split("/"))


@lru_cache(maxsize=1024)
def _encoded(name: str, value: str) -> tuple[bytes, bytes]:
    return name.encode("latin-1"), value.encode("latin-1")


def send_entry(res: Response, entry: Entry, state: str) -> None:
    """Answer with a cached entry, saying what the cache did."""
    res.status(entry.status)
    for name, value in entry.headers:
        res.set(name, value)
    res.set("x-nexpress-cache", state)
    res.end(entry.body)


def as_render(fn: Callable) -> RenderFn:
    """Any handler shape ((req) or (req, res), sync or async) as ``async (req, res)``."""
    if isinstance(fn, Endpoint):
        return fn
    if positional_arity(fn) >= 2:

        async def with_res(req: Request, res: Response) -> Any:
            return await call(fn, req, res)

        return with_res

    async def without_res(req: Request, res: Response) -> Any:
        return await call(fn, req)

    return without_res


class ResponseFinish(Protocol):
    """A last step for every response of a cached endpoint, given by the feature
    that owns it (pages: CSRF tokens into cached forms, partial navigation answers).
    The cache still stores and serves whole entries; this works on the copy sent."""

    headers: tuple[tuple[str, str], ...]
    """Headers every response gets (``Vary``...), pre-encoded on the fast path."""

    def needs_request(self, scope: dict) -> bool:
        """True when this request must take the general path (a Request, ``finish``)."""
        ...

    def personal(self, body: bytes) -> bool:
        """True when ``finish`` must adapt this cached body to each visitor."""
        ...

    async def finish(self, req: Request, res: Response) -> None: ...


class _NotCacheable(Exception):
    """The render was not a 200 page: send it as it is, do not store it."""


class CachedEndpoint(Endpoint):
    """A page (or a ``route.py`` GET) served from the cache: static when
    ``revalidate`` is None, ISR otherwise. ``nexpress build`` prerenders it with
    :meth:`render_entry`."""

    def __init__(
        self,
        render: Callable,
        *,
        cache: Cache,
        app: Any,
        revalidate: int | None,
        api: bool = False,
        static_params: Callable[[], Any] | None = None,
        source: str = "page",
        finish: ResponseFinish | None = None,
    ) -> None:
        self.render = as_render(render)
        self.finish = finish
        self.cache = cache
        self.app = app
        self.revalidate = revalidate
        self.api = api
        self.static_params = static_params
        self.source = source
        self.key_for = api_key if api else page_key
        self.__qualname__ = getattr(render, "__qualname__", "cached")

    def key(self, raw_path: str) -> tuple[str, str]:
        """(decoded path, cache key) for a request path, canonical however spelled."""
        if "%" in raw_path:
            return unquote(raw_path), self.key_for(canonical_path(raw_path))
        return raw_path, self.key_for(raw_path)

    async def render_entry(self, path: str, params: dict[str, Any]) -> Entry | None:
        return await render_entry(self.app, self.render, path, params, self.revalidate, self.source)

    async def __call__(self, req: Request, res: Response) -> Any:
        result = await self.serve(req, res)
        if self.finish is not None:
            if result is not None:
                send_result(res, result, self.source)
            await self.finish.finish(req, res)
            return None
        return result

    async def serve(self, req: Request, res: Response) -> Any:
        """Answer from the cache (rendering and storing on a miss)."""
        cache = self.cache
        path, key = self.key(req.raw_path)
        params = req.params
        entry = await cache.get(key)
        if entry is not None:
            if entry.revalidate is not None and time.time() - entry.created >= entry.revalidate:
                cache.regenerate_soon(key, lambda: self.render_entry(path, params))
                send_entry(res, entry, "STALE")
            else:
                send_entry(res, entry, "PRERENDER" if entry.prerendered else "HIT")
            return None

        async def produce() -> Entry:
            generation = await cache.generation()
            fresh = await self.render_entry(path, params)
            if fresh is None:
                raise _NotCacheable()
            # an invalidation meanwhile, here or on another instance: serve it, don't store it
            if generation == await cache.generation():
                await cache.set(key, fresh)
            return fresh

        try:
            entry = await cache.single_flight(key, produce)
        except _NotCacheable:
            # not a 200 (a redirect, a Response of another status): sent as it is, uncached
            return await self.render(req, res)
        send_entry(res, entry, "MISS")
        return None

    def fast_invoker(self, route_header: bytes | None, general: Invoker) -> Invoker:
        return MemoryHitInvoker(self, route_header, general)


class MemoryHitInvoker:
    """Fresh hits from the in-process memory store are written straight from the
    cache with pre-encoded headers: no Request or Response object. Everything else
    (misses, stale entries, other stores, encoded paths) takes the general path."""

    __slots__ = ("endpoint", "extra", "general", "wire")

    def __init__(self, endpoint: CachedEndpoint, route_header: bytes | None, general: Invoker) -> None:
        self.endpoint = endpoint
        self.general = general
        self.extra = [(b"x-nexpress-route", route_header)] if route_header is not None else []
        finish = endpoint.finish
        if finish is not None:
            self.extra += [_encoded(k, v) for k, v in finish.headers]
        self.wire: dict[str, tuple[Entry, list[tuple[bytes, bytes]] | None]] = {}

    def headers_for(self, key: str, entry: Entry) -> list[tuple[bytes, bytes]] | None:
        """The pre-encoded headers for a fresh entry; None when it cannot be sent as
        stored (its body is adapted per visitor)."""
        cached = self.wire.get(key)
        if cached is None or cached[0] is not entry:
            finish = self.endpoint.finish
            if finish is not None and finish.personal(entry.body):
                headers = None
            else:
                state = b"PRERENDER" if entry.prerendered else b"HIT"
                headers = [_encoded(k, v) for k, v in entry.headers]
                headers += [(HEADER, state), *self.extra, (_wire.CONTENT_LENGTH, str(len(entry.body)).encode())]
            if len(self.wire) > 4096:
                self.wire.clear()
            cached = self.wire[key] = (entry, headers)
        return cached[1]

    async def __call__(self, scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        store = self.endpoint.cache.store
        if "%" not in raw_path and isinstance(store, MemoryStore):
            key = self.endpoint.key_for(raw_path)
            entry = store.get_now(key)
            finish = self.endpoint.finish
            if (
                entry is not None
                and (entry.revalidate is None or time.time() - entry.created < entry.revalidate)
                and (finish is None or not finish.needs_request(scope))
            ):
                headers = self.headers_for(key, entry)
                if headers is not None:
                    await _wire.write_prepared(send, entry.status, headers, entry.body, scope["method"] == "HEAD")
                    return
        await self.general(scope, receive, send, raw_path, params)
