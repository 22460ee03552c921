"""Streamed pages: regions flushed as their values resolve, holes filled per request.

A page streams when it has a ``loading.html`` above it or a ``{% defer %}`` in its
templates (decided at start-up; every other page keeps the one-string path of
:mod:`nexpress.pages.render`). The wire format of a streamed page::

    <!doctype html>...<!--nx-r:ID--><nx-f>fallback</nx-f><!--/nx-r:ID-->...
    <noscript><style>nx-f{display:none}</style></noscript><script>(swap)</script>
    <div data-nx-region="ID">the real block</div><script>$nx("ID")</script>   <- when ready
    ...</body></html>                                                          <- the end

Everything up to ``</body>`` goes in the first flush (the status is then 200 for
good, the headers with it); each region follows, out of order, as its value
resolves (all of them awaited in parallel); ``</body></html>`` ends the response.
The inline ``$nx`` moves a region's nodes between its two comments in place of the
fallback. Without JavaScript the fallbacks are hidden by the ``<noscript>`` style
and the blocks stay where they arrived, after the page: complete, and in the order
they resolved. Crawlers (:func:`is_bot`) and navigation fetches get the page in
one piece instead, every region in place, as Next.js does for bots.

IDs: a random prefix per response and a counter, so no text of the page can name
(or collide with) a region. A region's content is HTML rendered by Jinja2
(autoescaped); only the ID, hex, is ever written into a script.

Holes (``{% dynamic %}``, partial prerendering) are filled by :class:`HoleFinish`
from the shell the cache stored: in order, in place, no script needed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from markupsafe import Markup, escape

from ..http._bounded import BoundedDict
from ..http.errors import HTTPError
from ..http.request import Request
from ..http.response import Response
from .navigation import PageFinish, wants_partial

__all__ = [
    "HOLES_HEADER",
    "HOLES_KEY",
    "LOADING_DELAY",
    "REGIONS_KEY",
    "SWAP_SCRIPT",
    "HoleFinish",
    "HoleMarks",
    "Regions",
    "client_redirect",
    "is_bot",
    "region_chunk",
    "stream_regions",
    "title_script",
    "waits_for_all",
]

log = logging.getLogger("nexpress.pages")

LOADING_DELAY = 0.02
"""Seconds a page's ``data()`` may take before ``loading.html`` is flushed in its
place (``loading_delay = 0.1`` in ``page.py`` changes it for one page)."""
REGIONS_KEY = "__nx_regions"
"""The context variable holding a streaming render's :class:`Regions`."""
HOLES_KEY = "__nx_holes"
"""The context variable holding a cached render's :class:`HoleMarks`."""
HOLES_HEADER = "x-nexpress-holes"
"""Kept with a cache entry (never sent): the nonce of the shell's hole markers."""

SWAP_SCRIPT = (
    "<noscript><style>nx-f{display:none}</style></noscript><script>function $nx(i){var d=document,"
    'c=d.querySelector(\'[data-nx-region="\'+i+\'"]\'),w=d.createTreeWalker(d.body,128),s,e,n;'
    'while(n=w.nextNode()){if(n.data=="nx-r:"+i)s=n;else if(s&&n.data=="/nx-r:"+i){e=n;break}}'
    "if(!c||!e)return;while(s.nextSibling!==e)s.parentNode.removeChild(s.nextSibling);"
    "while(c.firstChild)e.parentNode.insertBefore(c.firstChild,e);c.remove()}</script>"
)
"""Sent once, with the first flush of a page that has regions (the client budget)."""

_BOTS = re.compile(r"bot\b|bot/|crawl|spider|slurp|facebookexternalhit|whatsapp|preview|archiver", re.I)


def is_bot(user_agent: str | None) -> bool:
    """A crawler or link previewer: it gets the whole page at once, in order."""
    return bool(user_agent) and _BOTS.search(user_agent[:512]) is not None  # type: ignore[index]


def waits_for_all(req: Request) -> bool:
    """Renders that cannot stream: a navigation fetch (client.js reads the whole
    answer, the partial cut needs it), a crawler, a cached render (bare request)."""
    scope = req.scope
    return "nexpress.bare" in scope or wants_partial(scope) or is_bot(req.headers.get("user-agent"))


class Regions:
    """The regions one streaming render found: the values to wait for, each with the
    block that renders it (a Jinja2 macro, callable after the render)."""

    __slots__ = ("count", "pending", "prefix")

    def __init__(self) -> None:
        self.prefix = secrets.token_hex(6)
        self.count = 0
        self.pending: list[tuple[str, asyncio.Future[Any], Callable[[Any], str]]] = []

    def defer(self, value: Awaitable[Any], fallback: str, render: Callable[[Any], str]) -> Markup:
        """Register ``value``; the fallback between this region's two comments. A
        value already resolved (a data-cache hit) is rendered in place: no fallback,
        no region, nothing to swap (React does the same with data ready at the flush)."""
        future = asyncio.ensure_future(value)
        if future.done() and not future.cancelled() and future.exception() is None:
            result = future.result()
            if not isinstance(result, Response):
                return Markup(render(result))
        rid = f"{self.prefix}-{self.count}"
        self.count += 1
        self.pending.append((rid, future, render))
        return Markup(f"<!--nx-r:{rid}--><nx-f>") + fallback + Markup(f"</nx-f><!--/nx-r:{rid}-->")

    def cancel(self) -> None:
        for _, future, _ in self.pending:
            future.cancel()
        self.pending.clear()


def region_chunk(rid: str, html: str) -> str:
    """One resolved region: its block, then the call that puts it in place."""
    return f'<div data-nx-region="{rid}">{html}</div><script>$nx("{rid}")</script>'


def _script_string(text: str) -> str:
    """A JSON string safe inside ``<script>`` (no ``</script>``, no ``<!--``)."""
    return json.dumps(text).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def client_redirect(location: str) -> str:
    """``redirect()`` after the first flush: the status is sent, so the browser is
    sent on by a script, and by a meta refresh without JavaScript."""
    return (
        f'<meta http-equiv="refresh" content="0;url={escape(location)}">'
        f"<script>location.replace({_script_string(location)})</script>"
    )


def title_script(title: str) -> str:
    """The page's own title once a slow page arrives (its first flush had the layouts')."""
    return f"<script>document.title={_script_string(str(title))}</script>"


Failure = Callable[[BaseException], str]
"""What a region shows instead of its block: the nearest ``error.html`` (or
``not-found.html`` for a 404), rendered by the page's owner."""


def _resolved(future: asyncio.Future[Any], render: Callable[[Any], str], failure: Failure) -> str:
    try:
        value = future.result()
        if isinstance(value, Response):  # return redirect(...) from a slow value or data()
            location = value.get("location")
            if location is not None:
                return client_redirect(location)
            return failure(HTTPError(value.status_code))
        return str(render(value))
    except Exception as exc:
        if not isinstance(exc, HTTPError):
            log.exception("a streamed region failed; its error.html is shown in its place")
        return failure(exc)


async def stream_regions(first: str, tail: str, regions: Regions, failure: Failure) -> AsyncIterator[bytes]:
    """The body of a streamed page: ``first`` (up to ``</body>``) with the swap script,
    each region as it resolves (regions found while rendering one are awaited too),
    then ``tail``. Closing it (the client left) cancels what is still pending."""
    active: list[tuple[str, asyncio.Future[Any], Callable[[Any], str]]] = []
    try:
        yield (first + SWAP_SCRIPT).encode("utf-8")
        while True:
            active += regions.pending
            regions.pending = []
            if not active:
                break
            done, _ = await asyncio.wait({future for _, future, _ in active}, return_when=asyncio.FIRST_COMPLETED)
            ready = [item for item in active if item[1] in done]
            active = [item for item in active if item[1] not in done]
            yield "".join(region_chunk(rid, _resolved(future, render, failure)) for rid, future, render in ready).encode("utf-8")
        yield tail.encode("utf-8")
    finally:
        for _, future, _ in active:
            future.cancel()
        regions.cancel()


def split_tail(document: str) -> tuple[str, str]:
    """(everything before the last ``</body>``, the rest)."""
    end = document.rfind("</body>")
    if end == -1:
        return document, ""
    return document[:end], document[end:]


async def resolve_all(data: dict[str, Any]) -> dict[str, Any]:
    """``data()``'s awaitable values awaited together, for a render that waits."""
    waiting = [(key, value) for key, value in data.items() if asyncio.isfuture(value) or asyncio.iscoroutine(value)]
    if not waiting:
        return data
    values = await asyncio.gather(*(value for _, value in waiting))
    return {**data, **dict(zip((key for key, _ in waiting), values, strict=True))}


def start_values(data: dict[str, Any]) -> dict[str, Any]:
    """Every coroutine of ``data()`` started now, so slow values run in parallel from
    the start of the render, not when the template reaches them."""
    if not any(asyncio.iscoroutine(value) for value in data.values()):
        return data
    return {key: asyncio.ensure_future(value) if asyncio.iscoroutine(value) else value for key, value in data.items()}


# --- holes (partial prerendering) -------------------------------------------------------


class HoleMarks:
    """What ``{% dynamic %}`` writes in a cached render: the fallback between two
    markers holding this render's nonce (a post's text cannot forge one: the nonce is
    new on every render and only the cache entry knows it)."""

    __slots__ = ("nonce", "used")

    def __init__(self) -> None:
        self.nonce = secrets.token_hex(8)
        self.used = False

    def mark(self, hole: str, fallback: str) -> Markup:
        self.used = True
        return Markup(f"<!--nx-hole:{self.nonce}:{hole}-->") + fallback + Markup(f"<!--/nx-hole:{self.nonce}-->")


_MARKED_HOLE = re.compile(r"<!--nx-hole:(?:[0-9a-f]{16}:)?([0-9a-f]{10})-->.*?<!--/nx-hole:[0-9a-f]+-->", re.S)


def inline_hole(hole: str, content: str) -> Markup:
    """A hole rendered in place (a page rendered per request), marked so that the
    layout around it hashes as the cached pages' shell does (:func:`shell_text`)."""
    return Markup(f"<!--nx-hole:{hole}-->") + content + Markup(f"<!--/nx-hole:{hole}-->")


def shell_text(html: str) -> str:
    """A layout's output with each hole reduced to its id: what its shell hash is
    computed from (nexpress.pages.navigation), the same whoever the holes were
    rendered for and whatever nonce the cached copy has, so client navigation between
    pages that share the layout keeps it."""
    return _MARKED_HOLE.sub(r"\1", html) if "<!--nx-hole:" in html else html


def split_shell(body: str, nonce: str) -> list[str]:
    """A shell cut at its holes: ``[text, hole id, text, hole id, ..., text]``
    (the fallbacks dropped)."""
    opening = f"<!--nx-hole:{nonce}:"
    closing = f"<!--/nx-hole:{nonce}-->"
    parts: list[str] = []
    position = 0
    while (start := body.find(opening, position)) != -1:
        id_end = body.find("-->", start + len(opening))
        end = body.find(closing, id_end)
        if id_end == -1 or end == -1:
            break
        parts += [body[position:start], body[start + len(opening) : id_end]]
        position = end + len(closing)
    parts.append(body[position:])
    return parts


class HoleFinish:
    """The last step of a cached page with holes: the page's own finish (CSRF slots,
    partial navigation answers), then the holes rendered for this visitor into the
    shell the cache served, in place. The answer is ``Cache-Control: private,
    no-store`` and has no ETag (it differs per visitor); ``x-nexpress-cache`` still
    says how the shell was served (``HIT``).

    Holes render synchronously (a template reading ``req``, ``auth``, cookies: no slow
    data), so the filled page goes out in one write; a memory-cache hit on a route
    without middleware is answered by :meth:`personal_writer` without a Response."""

    def __init__(
        self,
        base: PageFinish,
        render_hole: Callable[[Request, Response | None], Callable[[str], str]],
        filler: Callable[[str], Callable[[Request], str]] | None = None,
    ) -> None:
        self.base = base
        self.render_hole = render_hole
        self.filler = filler
        """One hole compiled for the fast path (None: a hole calls ``csrf()``/``action()``,
        whose cookie needs a Response: the general path)."""
        self.headers = base.headers
        self.general_path_header = base.general_path_header
        self._cuts: BoundedDict[int, tuple[bytes, str, list[bytes], list[str]]] = BoundedDict(_CUTS_MAX)

    def personal(self, body: bytes) -> bool:
        return b"<!--nx-hole:" in body or self.base.personal(body)

    def personal_writer(self, entry: Any, headers: list[tuple[bytes, bytes]], ctx: Any) -> Any:
        """The fast path's writer for an entry whose only per-visitor parts are holes.
        Everything but the holes' own rendering is done here, once per entry: the shell
        cut into bytes around its holes, each hole compiled (``filler``), the headers."""
        nonce = next((value for name, value in entry.headers if name == HOLES_HEADER), None)
        if nonce is None or self.filler is None or self.base.personal(entry.body):
            return None
        parts = split_shell(entry.body.decode("utf-8"), nonce)
        static = [part.encode("utf-8") for part in parts[::2]]
        fills = [self.filler(hole) for hole in parts[1::2]]
        content_type = next((value for name, value in entry.headers if name == "content-type"), "text/html; charset=utf-8")
        fixed = [(b"content-type", content_type.encode("latin-1")), *headers, _PRIVATE]
        if len(fills) == 1:  # the usual page: one hole, the body in one join
            head, tail = static
            fill = fills[0]

            async def write_one(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
                content = fill(Request(scope, receive, raw_path, params, None, ctx)).encode("utf-8")
                await _send_filled(send, scope, fixed, b"".join((head, content, tail)))

            return write_one

        async def write(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
            req = Request(scope, receive, raw_path, params, None, ctx)
            pieces = [static[0]]
            for fill, after in zip(fills, static[1:], strict=True):
                pieces += [fill(req).encode("utf-8"), after]
            await _send_filled(send, scope, fixed, b"".join(pieces))

        return write

    async def finish(self, req: Request, res: Response) -> None:
        nonce = res.get(HOLES_HEADER)
        if nonce is not None:
            res.remove(HOLES_HEADER)
        await self.base.finish(req, res)
        if nonce is None or res.status_code != 200 or res.body_stream is not None:
            return
        res.remove("etag").remove("cdn-cache-control").remove("age")
        res.set("cache-control", "private, no-store")
        static, holes = self.cut(res.body, nonce)
        if holes:
            render = self.render_hole(req, res)
            pieces = [static[0]]
            for hole, after in zip(holes, static[1:], strict=True):
                pieces += [render(hole).encode("utf-8"), after]
            res.body = b"".join(pieces)

    def cut(self, body: bytes, nonce: str) -> tuple[list[bytes], list[str]]:
        """The shell's text around its holes (bytes) and the hole ids, cut once per
        cached body: a hit serves the entry's own bytes object, so the next request
        finds the cut by identity (a body changed by the finish before, with a CSRF
        slot filled, is cut again)."""
        found = self._cuts.get(id(body))
        if found is not None and found[0] is body and found[1] == nonce:
            return found[2], found[3]
        parts = split_shell(body.decode("utf-8"), nonce)
        static, holes = [part.encode("utf-8") for part in parts[::2]], parts[1::2]
        self._cuts.put(id(body), (body, nonce, static, holes))  # the body kept: its id stays its own
        return static, holes


_PRIVATE = (b"cache-control", b"private, no-store")
_CUTS_MAX = 256
"""Cached bodies whose cut :meth:`HoleFinish.cut` keeps (per page: its params' entries)."""


async def _send_filled(send: Callable, scope: dict, fixed: list[tuple[bytes, bytes]], body: bytes) -> None:
    """A page with its holes filled, in one write (no body for HEAD)."""
    await send({"type": "http.response.start", "status": 200, "headers": [*fixed, (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
