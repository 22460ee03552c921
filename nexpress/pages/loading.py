"""``loading.html`` for client navigation: the manifest client.js reads.

A click on a link should show the nearest ``loading.html`` of the page it opens at
once, before the answer arrives (Next.js shows ``loading.tsx`` the same way). The
browser cannot know which folder a URL belongs to, so the app publishes every
``loading.html`` (rendered once, at start-up: it is static, it may use ``asset()``)
with the URL pattern of its folder and the layout it goes in::

    GET /_nexpress/loading.json
    [{"pattern": "^/blog/[^/]+(?:/.*)?$", "layout": "1a2b3c4d", "html": "<p>Loading…</p>"}, ...]

deepest folders first. A folder inside a route group (``app/dashboard/(overview)/``)
shares its URL with pages outside the group (``/dashboard/invoices``), so its entry
matches exactly the URLs of its own pages instead of every URL below. Pages of an
app that has any ``loading.html`` carry
``<meta name="nexpress-loading" content="/_nexpress/loading.json">``; client.js fetches
the manifest once, when the browser is idle, and on a click puts the first
matching entry's HTML between the markers of that layout (if the page shown has it:
nexpress.pages.navigation) while the page is fetched. The manifest is revalidated
by its ETag (``no-cache``), so a deploy changes it at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from ..http.files import etag_matches
from ..http.response import Response
from ..routing.endpoint import Endpoint
from ..routing.router import RouteDef
from .folders import Folder, Layout
from .navigation import layout_id

__all__ = ["MANIFEST_URL", "LoadingManifest", "has_loading", "in_group", "meta_tag", "pattern_regex"]

MANIFEST_URL = "/_nexpress/loading.json"


def meta_tag() -> str:
    """What the head of every page of an app with a ``loading.html`` gets."""
    return f'<meta name="nexpress-loading" content="{MANIFEST_URL}">'


def has_loading(directory: str) -> bool:
    """Is there a ``loading.html`` anywhere under ``app/`` (routed folders only)?"""
    for _root, dirs, files in os.walk(directory):
        dirs[:] = [d for d in dirs if not d.startswith((".", "_")) and d != "__pycache__"]
        if "loading.html" in files:
            return True
    return False


def pattern_regex(pattern: str, below: bool = True) -> str:
    """A folder's URL pattern (``/blog/:slug``, ``/docs/*path``, ``{/*rest}``) as a
    regular expression (JavaScript's and Python's alike) matching its URLs and, with
    ``below``, every URL below them."""
    out = []
    position = 0
    for match in re.finditer(r"\{|\}|:[A-Za-z_$][\w$]*|\*[A-Za-z_$][\w$]*", pattern):
        out.append(re.escape(pattern[position : match.start()]))
        token = match.group(0)
        out.append("(?:" if token == "{" else ")?" if token == "}" else "[^/]+" if token[0] == ":" else ".+")
        position = match.end()
    out.append(re.escape(pattern[position:]))
    body = "".join(out).replace("\\/", "/")
    if not below:
        return f"^{body or '/'}$"
    if body in ("/", ""):
        return "^/.*$"
    return f"^{body}(?:/.*)?$"


def in_group(folder: Folder) -> bool:
    """Is the folder a route group ``(name)`` or inside one (its URL prefix is not its own)?"""
    return any(part.startswith("(") and part.endswith(")") for part in folder.rel.split("/"))


class LoadingManifest(Endpoint):
    """Every ``loading.html`` of the app; serves ``/_nexpress/loading.json``."""

    response_kind = "json"

    def __init__(self) -> None:
        self.entries: list[tuple[int, Folder, dict[str, str]]] = []
        self.pages: list[Folder] = []
        self.__qualname__ = "loading_manifest"
        self._body: bytes | None = None
        self._etag = ""

    def add(self, folder: Folder, html: str | None, layouts: list[Layout]) -> None:
        """Folder ``folder``'s rendered ``loading.html``; it goes inside the deepest of
        ``layouts`` (the page's slot in it). Without a layout (or a static render) it
        is not listed: the server still flushes it."""
        if html is None or not layouts:
            return
        depth = folder.rel.count("/")
        self.entries.append((depth, folder, {"pattern": pattern_regex(folder.pattern), "layout": layout_id(layouts[-1].source), "html": html}))
        self._body = None

    def page(self, folder: Folder) -> None:
        """A page lives in ``folder`` (for the entries of route groups)."""
        self.pages.append(folder)
        self._body = None

    def _pattern(self, folder: Folder, entry: dict[str, str]) -> str:
        if not in_group(folder):
            return entry["pattern"]
        exact = sorted({pattern_regex(page.pattern, below=False)[1:-1] for page in self.pages if any(f is folder for f in page.chain())})
        return "^(?:" + "|".join(exact) + ")$" if exact else "^$"

    def body(self) -> tuple[bytes, str]:
        if self._body is None:
            ordered = [
                {**entry, "pattern": self._pattern(folder, entry)}
                for _, folder, entry in sorted(self.entries, key=lambda item: -item[0])
            ]
            self._body = json.dumps(ordered).encode("utf-8")
            self._etag = '"' + hashlib.sha256(self._body).hexdigest()[:16] + '"'
        return self._body, self._etag

    async def __call__(self, req: Any, res: Response) -> None:
        body, etag = self.body()
        res.set("cache-control", "no-cache")
        res.set("etag", etag)
        match = req.headers.get("if-none-match")
        if match is not None and etag_matches(match, etag):
            res.status(304).end()
            return
        res.type("application/json").end(body)

    def routes(self) -> list[RouteDef]:
        if not self.entries:
            return []
        here = os.path.abspath(__file__)
        return [RouteDef("GET", MANIFEST_URL, (self,), {}, f"{here}:1", "static-file", "nexpress/pages/loading.py")]
