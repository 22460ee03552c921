"""Static and ISR responses served from the cache, stale-while-revalidate.

A cached route is rendered with a *bare* request: its path and params only, no
headers, cookies, query string or client address. So a cached page can never
hold one visitor's data, a forged ``Host``/``X-Forwarded-Host`` header cannot
poison it, and ``?anything`` cannot make a new entry or force a regeneration.

Every cached response carries a strong ``ETag`` (a hash of the body; a matching
``If-None-Match`` gets a 304, decided on the representation sent: a page's partial
navigation answer has its own tag) and a ``Cache-Control`` a CDN can follow
(:func:`cache_control`): browsers revalidate every time (``max-age=0``, cheap with
the ETag), shared caches keep ISR pages ``revalidate`` seconds and static pages
:data:`STATIC_S_MAXAGE`. The stale-while-revalidate window
(:data:`STALE_WHILE_REVALIDATE`) is for CDNs only, in ``CDN-Cache-Control`` (RFC
9213): in ``Cache-Control`` browsers would apply it too and show a page the server
has already replaced (client navigation did, after a server action). A ``STALE``
response says ``s-maxage=0``; an ISR response says its ``Age``.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, Protocol
from urllib.parse import quote, unquote

from ..http import writer as _wire
from ..http._bounded import BoundedDict
from ..http.calls import call
from ..http.context import HasContext, RequestContext
from ..http.draft import COOKIE_BYTES as _DRAFT_COOKIE
from ..http.draft import start_draft_render, stop_draft_render
from ..http.files import etag_matches
from ..http.request import Request
from ..http.response import Response
from ..http.scope import URL_PATH_SAFE, http_scope, no_body
from ..routing.endpoint import Endpoint, Invoker
from ..routing.router import positional_arity
from ..server import send_result
from .core import Cache, start_recording, stop_recording
from .freshness import is_stale, regeneration_due
from .keys import api_key, page_key
from .stores import Entry, MemoryStore, body_etag, entry_etag

__all__ = [
    "STALE_WHILE_REVALIDATE",
    "STATIC_S_MAXAGE",
    "CachedEndpoint",
    "ResponseFinish",
    "answer_not_modified",
    "bare_request",
    "cache_control",
    "canonical_path",
    "render_entry",
]

HEADER = b"x-nexpress-cache"
_KEEP_HEADERS = ("content-type", "x-nexpress-holes")
"""What an entry keeps of the render's headers: its type, and the nonce of the holes a
page's shell has (nexpress.pages.streaming; its finish removes it before sending)."""
_IF_NONE_MATCH = b"if-none-match"
_COOKIE = b"cookie"

STATIC_S_MAXAGE = 300
"""Seconds a shared cache (CDN) keeps a static page before asking again: it cannot
hear ``revalidate_tag``/``revalidate_path``, so an invalidation reaches visitors
behind it within this time (asking again costs a 304 when nothing changed)."""
STALE_WHILE_REVALIDATE = 86_400
"""Seconds a shared cache may serve a page past its freshness while it fetches the
new one in the background (at least the page's ``revalidate``)."""

RenderFn = Callable[[Request, Response], Awaitable[Any]]


def bare_request(ctx: RequestContext, path: str, params: dict[str, Any]) -> Request:
    """A request carrying nothing but the path: what cached renders see."""
    raw = quote(path, safe=URL_PATH_SAFE)
    scope = http_scope("GET", raw.encode("ascii"))
    scope["nexpress.bare"] = True
    return Request(scope, no_body(), raw, dict(params), None, ctx)


async def _joined(content: Any) -> bytes:
    chunks = []
    if hasattr(content, "__aiter__"):
        async for chunk in content:
            chunks.append(chunk)
    else:
        chunks.extend(content)
    return b"".join(c if isinstance(c, bytes) else c.encode() for c in chunks)


async def render_entry(ctx: RequestContext, render: RenderFn, path: str, params: dict[str, Any], revalidate: int | None, source: str = "page") -> Entry | None:
    """Render for ``path`` with a bare request; an Entry for a 200, else None."""
    req = bare_request(ctx, path, params)
    res = Response().bind(req)
    token, record = start_recording()
    try:
        result = await render(req, res)
        if result is not None or not res.sent:
            send_result(res, result, source)
    finally:
        stop_recording(token)
    if res.status_code != 200 or res.file_path is not None:
        return None
    body = res.body if res.body_stream is None else await _joined(res.body_stream)
    headers = [(name, value) for name, value in res.headers if name in _KEEP_HEADERS]
    return Entry(
        body=body,
        status=200,
        headers=headers,
        created=time.time(),
        revalidate=revalidate,
        tags=sorted(record.tags),
        calls=record.call_list(),
        etag=body_etag(body),
    )


def canonical_path(raw: str) -> str:
    """One cache key per page however its path is spelled (``/%69sr`` is ``/isr``),
    while an encoded ``/`` inside a segment stays distinct (``/docs/a%2Fb`` is not
    ``/docs/a/b``): decode each segment, then re-escape only ``%`` and ``/``."""
    return "/".join(unquote(seg).replace("%", "%25").replace("/", "%2F") for seg in raw.split("/"))


@lru_cache(maxsize=1024)
def _encoded(name: str, value: str) -> tuple[bytes, bytes]:
    return name.encode("latin-1"), value.encode("latin-1")


def cache_control(revalidate: int | None, stale: bool = False, shared: bool = True) -> str:
    """The ``Cache-Control`` of a cached response (see the module docstring);
    ``shared=False`` (behind sign-in): browsers only, revalidating every time."""
    if not shared:
        return "private, no-cache"
    if stale:
        s_maxage = 0
    elif revalidate is None:
        s_maxage = STATIC_S_MAXAGE
    else:
        s_maxage = revalidate
    return f"public, max-age=0, s-maxage={s_maxage}"


def cdn_cache_control(revalidate: int | None, stale: bool = False) -> str:
    """``CDN-Cache-Control`` (RFC 9213): what only CDNs read, the freshness of
    ``Cache-Control``'s ``s-maxage`` plus the window in which they may serve the page
    stale while they fetch the new version."""
    fresh = 0 if stale else STATIC_S_MAXAGE if revalidate is None else revalidate
    return f"max-age={fresh}, stale-while-revalidate={max(STALE_WHILE_REVALIDATE, revalidate or 0)}"


def validators(entry: Entry, stale: bool, shared: bool = True) -> list[tuple[str, str]]:
    """ETag, Cache-Control and (shared pages) CDN-Cache-Control for an entry (Age is
    added per response)."""
    found = [("etag", entry_etag(entry)), ("cache-control", cache_control(entry.revalidate, stale, shared))]
    if shared:
        found.append(("cdn-cache-control", cdn_cache_control(entry.revalidate, stale)))
    return found


def age_of(entry: Entry, now: float) -> int | None:
    """Whole seconds since an ISR entry was rendered (None for static pages and for
    entries rendered this second), for the ``Age`` header shared caches count from."""
    if entry.revalidate is None:
        return None
    age = int(now - entry.created)
    return age if age > 0 else None


def not_modified(if_none_match: str | None, entry: Entry) -> bool:
    """True when the client's ``If-None-Match`` already holds this entry."""
    return if_none_match is not None and etag_matches(if_none_match, entry_etag(entry))


def send_entry(req: Request, res: Response, entry: Entry, state: str, shared: bool = True, conditional: bool = True) -> None:
    """Answer with a cached entry, saying what the cache did: 304 when the client
    already has it (If-None-Match), else the stored response. ``conditional=False``:
    always the stored response, for a finish step that may send another
    representation (a partial navigation answer has its own ETag); it answers the
    304 itself (:func:`answer_not_modified`)."""
    stale = state == "STALE"
    for name, value in validators(entry, stale, shared):
        res.set(name, value)
    age = None if stale else age_of(entry, time.time())
    if age is not None:
        res.set("age", str(age))
    res.set("x-nexpress-cache", state)
    if conditional and not_modified(req.headers.get("if-none-match"), entry):
        res.status(304).end()
        return
    res.status(entry.status)
    for name, value in entry.headers:
        res.set(name, value)
    res.end(entry.body)


def answer_not_modified(req: Request, res: Response) -> None:
    """Turn a finished 200 into a 304 when the client's ``If-None-Match`` holds the
    ETag of what is about to be sent: the representation actually sent (a full page
    or a partial answer, each with its own tag), never another one for the same URL."""
    if res.status_code != 200 or res.body_stream is not None or res.file_path is not None:
        return
    etag = res.get("etag")
    if etag is None:
        return
    if_none_match = req.headers.get("if-none-match")
    if if_none_match is not None and etag_matches(if_none_match, etag):
        res.status(304)
        res.body = b""


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

    general_path_header: bytes | None
    """A request header whose presence sends the request down the general path (a
    Request, ``finish``): read in the fast path's one scan of the headers."""

    def personal(self, body: bytes) -> bool:
        """True when ``finish`` must adapt this cached body to each visitor."""
        ...

    def personal_writer(self, entry: Entry, headers: list[tuple[bytes, bytes]], ctx: RequestContext) -> PersonalWriter | None:
        """For a ``personal`` entry the fast path may still answer: a writer that
        adapts it to the request and writes it with ``headers`` (None: the general path)."""
        ...

    async def finish(self, req: Request, res: Response) -> None: ...


PersonalWriter = Callable[[dict, Callable, Callable, str, dict], Awaitable[None]]
"""``(scope, receive, send, raw_path, params)``: answers one request from a cached entry."""


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
        app: HasContext,
        revalidate: int | None,
        api: bool = False,
        static_params: Callable[[], Any] | None = None,
        source: str = "page",
        shared: bool = True,
        finish: ResponseFinish | None = None,
    ) -> None:
        self.response_kind = render.response_kind if isinstance(render, Endpoint) else "json" if api else ""
        self.render = as_render(render)
        self.shared = shared
        """False for pages behind sign-in: ``Cache-Control: private`` (no CDN keeps them)."""
        self.finish = finish
        """The owning feature's last step on every response (CSRF tokens, partial navigation)."""
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
        return await render_entry(self.app.context, self.render, path, params, self.revalidate, self.source)

    async def __call__(self, req: Request, res: Response) -> Any:
        finish = self.finish
        serve = self.draft if req.draft_mode else self.serve
        if finish is None:
            return await serve(req, res)
        # the finish may send another representation (a partial answer, its own ETag):
        # the 304 is decided on what is sent, after it
        result = await serve(req, res, conditional=False)
        if result is not None:
            send_result(res, result, self.source)
        await finish.finish(req, res)
        answer_not_modified(req, res)
        return None

    async def serve(self, req: Request, res: Response, conditional: bool = True) -> Any:
        """Answer from the cache (rendering and storing on a miss); ``conditional``:
        a 304 when ``If-None-Match`` holds the entry's ETag."""
        cache = self.cache
        path, key = self.key(req.raw_path)
        params = req.params
        entry = await cache.get(key)
        if entry is not None:
            now = time.time()
            if is_stale(entry, now):
                if regeneration_due(entry, now):
                    cache.regenerate_soon(key, lambda: self.render_entry(path, params))
                send_entry(req, res, entry, "STALE", self.shared, conditional)
            else:
                send_entry(req, res, entry, "PRERENDER" if entry.prerendered else "HIT", self.shared, conditional)
            return None

        async def produce() -> Entry:
            generation = await cache.generation()
            fresh = await self.render_entry(path, params)
            if fresh is None:
                raise _NotCacheable()
            # an invalidation meanwhile, here or on another instance: serve it, don't store it
            await cache.store_if_current(key, fresh, generation)
            return fresh

        try:
            entry = await cache.single_flight(key, produce)
        except _NotCacheable:
            # not a 200 (a redirect, a Response of another status): sent as it is, uncached
            return await self.render(req, res)
        send_entry(req, res, entry, "MISS", self.shared, conditional)
        return None

    async def draft(self, req: Request, res: Response, conditional: bool = True) -> Any:
        """Draft mode (``req.draft_mode``): render fresh for this browser only. The
        cache is neither read nor written, ``@cached`` calls included, and the answer
        is ``Cache-Control: private, no-store`` (``x-nexpress-cache: DRAFT``)."""
        token = start_draft_render()
        try:
            result = await self.render(req, res)
        finally:
            stop_draft_render(token)
        res.set("cache-control", "private, no-store")
        res.set("x-nexpress-cache", "DRAFT")
        return result

    def fast_invoker(self, route_header: bytes | None, general: Invoker) -> Invoker:
        # the bound method, not the object: calling an object goes through __call__'s
        # slot lookup on every request
        return MemoryHitInvoker(self, route_header, general).invoke


class _Prepared:
    """The pre-encoded headers of one entry under its cache ``key``: for its 200 and
    for a 304 (None: its body is adapted per visitor, so it takes the general path)."""

    __slots__ = ("age", "entry", "full", "key", "not_modified", "with_age", "writer")

    def __init__(
        self,
        key: str,
        entry: Entry,
        full: list[tuple[bytes, bytes]] | None,
        not_modified: list[tuple[bytes, bytes]] | None,
        writer: PersonalWriter | None = None,
    ) -> None:
        self.key = key
        self.entry = entry
        self.full = full
        self.not_modified = not_modified
        self.writer = writer
        """A personal entry the fast path still answers (a page's per-visitor holes)."""
        self.age = 0  # the Age the headers below carry (ISR): rebuilt once a second, not per request
        self.with_age = full

    def aged(self, age: int) -> list[tuple[bytes, bytes]]:
        """The 200's headers with ``Age: age``."""
        if age != self.age:
            assert self.full is not None
            self.with_age = [*self.full, (b"age", str(age).encode())] if age > 0 else self.full
            self.age = age
        return self.with_age  # type: ignore[return-value]


class MemoryHitInvoker:
    """Fresh hits from the in-process memory store are written straight from the
    cache with pre-encoded headers (ETag and Cache-Control included; a 304 when
    ``If-None-Match`` matches): no Request or Response object. Everything else
    (misses, stale entries, other stores, encoded paths) takes the general path."""

    __slots__ = ("cache", "endpoint", "extra", "general", "key_for", "special", "wire")

    def __init__(self, endpoint: CachedEndpoint, route_header: bytes | None, general: Invoker) -> None:
        self.endpoint = endpoint
        self.cache = endpoint.cache
        self.key_for = endpoint.key_for
        self.general = general
        self.extra = _wire.route_headers(route_header)
        finish = endpoint.finish
        header = finish.general_path_header if finish is not None else None
        # the request headers the fast path acts on, found with one set test per header:
        # If-None-Match (a 304), the finish's (a navigation fetch: the general path) and
        # Cookie (the draft-mode cookie: the general path)
        self.special = frozenset(h for h in (_IF_NONE_MATCH, _COOKIE, header) if h is not None)
        if finish is not None:
            self.extra += [_encoded(k, v) for k, v in finish.headers]
        # by request path (one without %-escapes: the key is a function of it), so a hit
        # finds its key and its headers in one lookup
        self.wire: BoundedDict[str, _Prepared] = BoundedDict(4096)

    def prepared(self, raw_path: str, key: str, entry: Entry) -> _Prepared:
        finish = self.endpoint.finish
        state = b"PRERENDER" if entry.prerendered else b"HIT"
        if finish is not None and finish.personal(entry.body):
            # adapted per visitor: the general path, or the finish's own writer
            headers = [(HEADER, state), *self.extra]
            found = _Prepared(key, entry, None, None, finish.personal_writer(entry, headers, self.endpoint.app.context))
        else:
            common = [_encoded(k, v) for k, v in validators(entry, False, self.endpoint.shared)]
            common += [(HEADER, state), *self.extra]
            full = [_encoded(k, v) for k, v in entry.headers]
            full += [*common, (_wire.CONTENT_LENGTH, str(len(entry.body)).encode())]
            found = _Prepared(key, entry, full, common)
        return self.wire.put(raw_path, found)

    async def invoke(self, scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
        store = self.cache.store
        if "%" not in raw_path and isinstance(store, MemoryStore):
            prepared = self.wire.get(raw_path)
            key = prepared.key if prepared is not None else self.key_for(raw_path)
            entry = store.get_now(key)
            if entry is not None:
                revalidate = entry.revalidate
                now = time.time()
                if revalidate is None or now - entry.created < revalidate:
                    # inline on purpose: this is the cached page's whole request path
                    if prepared is None or prepared.entry is not entry:
                        prepared = self.prepared(raw_path, key, entry)
                    if prepared.writer is not None:  # a shell with holes: never a 304
                        special = self.special
                        for name, value in scope["headers"]:  # a navigation fetch, a draft-mode browser?
                            if name in special and name != _IF_NONE_MATCH and (name != _COOKIE or _DRAFT_COOKIE in value):
                                return await self.general(scope, receive, send, raw_path, params)
                        return await prepared.writer(scope, receive, send, raw_path, params)
                    if prepared.full is not None:
                        status, headers = entry.status, prepared.full
                        special = self.special
                        for name, value in scope["headers"]:  # one scan: a 304? the general path?
                            if name not in special:
                                continue
                            if name == _IF_NONE_MATCH:
                                if etag_matches(value.decode("latin-1"), entry.etag):
                                    status, headers = 304, prepared.not_modified
                            elif name != _COOKIE or _DRAFT_COOKIE in value:
                                status = 0  # a navigation fetch, a draft-mode browser
                                break
                        if status == 0:
                            return await self.general(scope, receive, send, raw_path, params)
                        if revalidate is not None and status == 200:
                            age = int(now - entry.created)
                            headers = prepared.with_age if age == prepared.age else prepared.aged(age)
                        # the two messages written here from the lists prepared above by the
                        # writer's rules (a call costs ~2k instructions, a tenth of this path)
                        await send({"type": _wire.START, "status": status, "headers": headers})
                        await send({"type": _wire.BODY, "body": b"" if status == 304 or scope["method"] == "HEAD" else entry.body})
                        return
        await self.general(scope, receive, send, raw_path, params)
