"""Client navigation on the server side: layout markers, partial responses, and the
finishing step every page response goes through.

Markers. When a layout wraps a page, the page's place in it is marked with two
HTML comments: ``<!--nx:<layout id>:<shell hash>-->`` before and
``<!--/nx:<layout id>-->`` after. The layout id is a hash of the layout's file
name; the shell hash is a hash of what the layout itself rendered around the page
(so a layout that renders differently, say for a signed-in user, is a different
shell). Comments change nothing in how a page looks or what CSS selects.

Wire format. ``client.js`` sends ``x-nexpress-nav: <id>:<shell>,<id>:<shell>...``,
the layouts of the page it shows, outermost first. If the page it asks for shares
some of them (same ids, same shells, from the root down), the answer holds only
what is below the deepest shared one::

    HTTP/1.1 200 OK
    x-nexpress-partial: <layout id>
    vary: x-nexpress-nav

    <!doctype html><html><head>(the new page's whole head)</head><body>
    <template data-nexpress-partial="<layout id>">(what goes between that
    layout's markers)</template></body></html>

It is a complete HTML document, so anything that treats it as one still works;
otherwise, or when the full page is not bigger, the answer is the full page.

Caches. Partial answers are cut from the full page at the moment of answering:
the page cache only ever stores full pages, and every page response says
``Vary: x-nexpress-nav`` so an HTTP cache (browser, CDN) keeps the two apart.
A partial answer has its own ETag (:func:`partial_etag`, the full page's tag and
the layout it is cut at): a browser that kept it revalidates it for a normal load
with ``If-None-Match`` (Chrome does when ``Vary`` does not match), and must get
the full page back, not a 304 that shows the bare ``<template>`` as the page.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from .forms import SLOT_PREFIX, fill_csrf_slot

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = [
    "NAV_HEADER",
    "PARTIAL_HEADER",
    "PageFinish",
    "close_marker",
    "document_chain",
    "layout_id",
    "open_marker",
    "parse_chain",
    "partial_document",
    "partial_etag",
    "shell_hash",
]

NAV_HEADER = "x-nexpress-nav"
PARTIAL_HEADER = "x-nexpress-partial"
_NAV_HEADER_BYTES = NAV_HEADER.encode("ascii")
_MAX_HEADER = 2048
_MAX_LAYOUTS = 64
_HASH = re.compile(r"^[0-9a-f]{8}$")
_OPEN = re.compile(r"<!--nx:([0-9a-f]{8}):([0-9a-f]{8})-->")


def _short_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=4).hexdigest()


def layout_id(source: str) -> str:
    """The id of a layout file ("app/blog/layout.html")."""
    return _short_hash(source)


def shell_hash(prefix: str, suffix: str) -> str:
    """A hash of what a layout rendered around its page."""
    return _short_hash(prefix + "\x00" + suffix)


def open_marker(layout: str, shell: str) -> str:
    return f"<!--nx:{layout}:{shell}-->"


def close_marker(layout: str) -> str:
    return f"<!--/nx:{layout}-->"


def parse_chain(header: str | None) -> list[tuple[str, str]]:
    """The layouts ``x-nexpress-nav`` names (outermost first); anything malformed
    gives an empty chain (then the full page is sent)."""
    if not header or len(header) > _MAX_HEADER:
        return []
    chain = []
    for item in header.split(",")[:_MAX_LAYOUTS]:
        layout, _, shell = item.strip().partition(":")
        if not (_HASH.match(layout) and _HASH.match(shell)):
            return []
        chain.append((layout, shell))
    return chain


def document_chain(document: str) -> list[tuple[str, str, int, int]]:
    """The layout markers of a page, outermost first: (id, shell, start of the
    content, end of the content)."""
    found = []
    position = 0
    for match in _OPEN.finditer(document):
        if match.start() < position:
            continue
        layout = match.group(1)
        end = document.find(close_marker(layout), match.end())
        if end == -1:
            break
        found.append((layout, match.group(2), match.end(), end))
    return found


def _head(document: str) -> str | None:
    lower = document[:65536].lower()
    start = lower.find("<head")
    if start == -1:
        return None
    start = lower.find(">", start)
    end = lower.find("</head>", start)
    if start == -1 or end == -1:
        return None
    return document[start + 1 : end]


def partial_document(document: str, client_chain: list[tuple[str, str]]) -> tuple[str, str] | None:
    """(layout id, partial document) for a client showing ``client_chain``, or None
    when nothing is shared or the partial would not be smaller than the page."""
    if not client_chain:
        return None
    shared = None
    for (layout, shell, start, end), theirs in zip(document_chain(document), client_chain, strict=False):
        if (layout, shell) != theirs:
            break
        shared = (layout, start, end)
    if shared is None:
        return None
    head = _head(document)
    if head is None:
        return None
    layout, start, end = shared
    body = (
        f"<!doctype html><html><head>{head}</head><body>"
        f'<template data-nexpress-partial="{layout}">{document[start:end]}</template></body></html>'
    )
    if len(body) >= len(document):
        return None
    return layout, body


def partial_etag(etag: str, layout: str) -> str:
    """The ETag of the partial answer cut at ``layout`` from the page tagged ``etag``:
    equal pages cut at the same layout give equal bytes, so it stays a strong
    validator, and it never equals the full page's tag (nor a cut at another layout)."""
    weak = etag.startswith("W/")
    opaque = etag[2:] if weak else etag
    if len(opaque) >= 2 and opaque[0] == '"' and opaque[-1] == '"':
        opaque = opaque[1:-1]
    tagged = f'"{opaque}.nx-{layout}"'
    return "W/" + tagged if weak else tagged


def wants_partial(scope: dict) -> bool:
    """Does this request carry ``x-nexpress-nav``? (checked on the fast path of
    cached pages, before any Request exists)."""
    for name, _ in scope["headers"]:  # noqa: SIM110 - a plain loop is twice as fast as any() here
        if name == _NAV_HEADER_BYTES:
            return True
    return False


class PageFinish:
    """The last step of every page response (rendered or served from the cache):
    ``Vary: x-nexpress-nav``, the partial answer to a navigation fetch (with its own
    ETag; the cache answers the 304 after this step, on what is sent) and, for
    pages served from the cache (``cached=True``), the visitor's CSRF token into
    the slots ``csrf()`` left in the cached copy."""

    headers: tuple[tuple[str, str], ...] = (("vary", NAV_HEADER),)

    def __init__(self, cached: bool) -> None:
        self.cached = cached

    general_path_header: bytes | None = _NAV_HEADER_BYTES
    """A navigation fetch is answered through :meth:`finish` (never the fast path)."""

    def personal(self, body: bytes) -> bool:
        """A cached page with a CSRF slot gets each visitor's token."""
        return SLOT_PREFIX in body

    def personal_writer(self, entry: Any, headers: list[tuple[bytes, bytes]], ctx: Any) -> None:
        """A page with CSRF slots takes the general path (its token sets a cookie)."""
        return None

    async def finish(self, req: Request, res: Response) -> None:
        res.vary(NAV_HEADER)
        if not self.cached and not wants_partial(req.scope):
            return  # a page rendered for this request, no navigation fetch: nothing to adapt
        if res.status_code not in (200, 422) or res.body_stream is not None or res.file_path is not None:
            return
        content_type = res.get("content-type")
        if content_type is None or not content_type.startswith("text/html"):
            return
        if self.cached:
            filled = fill_csrf_slot(req, res, res.body)
            if filled is not res.body:
                res.body = filled
        if wants_partial(req.scope):
            chain = parse_chain(req.headers.get(NAV_HEADER))
            found = partial_document(res.body.decode("utf-8", "replace"), chain) if chain else None
            if found is not None:
                layout, partial = found
                res.set(PARTIAL_HEADER, layout)
                res.body = partial.encode("utf-8")
                etag = res.get("etag")
                if etag is not None:  # another representation: another validator
                    res.set("etag", partial_etag(etag, layout))


FINISH = PageFinish(cached=False)
"""For pages rendered per request (dynamic pages, action answers)."""
CACHED_FINISH = PageFinish(cached=True)
"""For pages served from the cache."""
