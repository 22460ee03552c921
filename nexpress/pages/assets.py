"""Fingerprinted assets: colocated ``page.css/js``, ``layout.css/js`` and ``asset(path)``.

Every asset URL carries a hash of the file's content in its name and lives under
``/_nexpress/static/``, so it is served with ``Cache-Control: public,
max-age=31536000, immutable``: a browser keeps it for a year and a new version is a
new URL. The URL names the file by its path from the app's root, so the server
finds it again without any state (after a restart, from a prerendered page):

    app/blog/page.css   ->  /_nexpress/static/app/blog/page.3f9a2c1d7e.css
    public/logo.png     ->  /_nexpress/static/public/logo.8b1e0f44a2.png

A URL whose hash no longer matches the file is a 404 (the old content is gone;
serving the new one under the old name would break ``immutable``). Only
``public/`` files and, under ``app/``, files with an asset extension (styles,
scripts, images, fonts, media; never ``.py`` or templates) can be named.

Route assets: ``layout.css``/``layout.js`` in a folder apply to every page at or
below it, ``page.css``/``page.js`` to the page of their folder only, linked in that
order (outer layouts first, so inner rules win) from those pages' ``<head>``: a
page never loads another route's assets.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
from collections.abc import Iterator
from html import escape
from typing import Any
from urllib.parse import quote

from ..http.errors import HTTPError
from ..http.paths import safe_join
from ..http.response import Response
from ..routing.endpoint import Endpoint
from ..routing.router import RouteDef

__all__ = [
    "IMMUTABLE",
    "PREFIX",
    "AssetEndpoint",
    "AssetError",
    "Assets",
    "fingerprinted_name",
    "split_fingerprint",
]

PREFIX = "/_nexpress/static/"
IMMUTABLE = 31536000  # one year, in seconds
ROUTE_ASSETS = ("layout.css", "layout.js", "page.css", "page.js")
ASSET_EXTENSIONS = frozenset((
    ".css", ".js", ".mjs", ".map", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif", ".ico",
    ".bmp", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mp4", ".webm", ".mp3", ".ogg", ".wav", ".pdf",
    ".txt", ".webmanifest",
))  # fmt: skip
_MAX_LOOKUPS = 4096  # asset() names remembered (templates name a bounded set of files)
_DIGEST_LENGTH = 10
_DIGEST = re.compile(rf"^[0-9a-f]{{{_DIGEST_LENGTH}}}$")


class AssetError(LookupError):
    """``asset(path)`` names no servable file; the message says where it looked."""


def content_hash(data: bytes) -> str:
    """The fingerprint of a file's content (10 hex digits of SHA-256)."""
    return hashlib.sha256(data).hexdigest()[:_DIGEST_LENGTH]


def fingerprinted_name(rel: str, digest: str) -> str:
    """``app/blog/page.css`` + digest -> ``app/blog/page.<digest>.css``."""
    head, ext = posixpath.splitext(rel)
    return f"{head}.{digest}{ext}"


def split_fingerprint(name: str) -> tuple[str, str] | None:
    """The inverse of :func:`fingerprinted_name`: (path, digest), or None."""
    head, ext = posixpath.splitext(name)
    base, dot, digest = head.rpartition(".")
    if dot and _DIGEST.match(digest):
        return base + ext, digest
    if ext and _DIGEST.match(ext[1:]):  # a file without an extension: "LICENSE.<digest>"
        return head, ext[1:]
    return None


class Assets:
    """The servable assets of one app: ``app/`` (the pages folder) and ``public/``.

    Hashes are computed on first use and kept while the file's size and mtime stay
    the same, so ``nexpress dev`` and ``nexpress start`` fingerprint on the fly and
    ``nexpress build`` writes the very same names into ``.nexpress/static/``."""

    def __init__(self, root: str, pages_dir: str, public_dir: str | None) -> None:
        self.root = os.path.realpath(root)
        self.pages_dir = os.path.realpath(pages_dir)
        self.public_dir = os.path.realpath(public_dir) if public_dir else None
        self._hashes: dict[str, tuple[int, int, str]] = {}
        self._lookups: dict[tuple[str, str], tuple[str, str]] = {}  # asset() name -> (real path, name from the root)

    # --- names and hashes ---------------------------------------------------------

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def digest(self, path: str) -> str:
        """The content hash of ``path`` (cached by size and mtime)."""
        stat = os.stat(path)
        known = self._hashes.get(path)
        if known is not None and known[0] == stat.st_mtime_ns and known[1] == stat.st_size:
            return known[2]
        with open(path, "rb") as fh:
            digest = content_hash(fh.read())
        self._hashes[path] = (stat.st_mtime_ns, stat.st_size, digest)
        return digest

    def url_for_file(self, path: str) -> str:
        """The fingerprinted URL of a servable file (an absolute path)."""
        path = os.path.realpath(path)
        return PREFIX + _quote_path(fingerprinted_name(self.rel(path), self.digest(path)))

    def servable(self, path: str) -> bool:
        """May this (real, absolute) path be served under ``/_nexpress/static/``?"""
        if not os.path.isfile(path):
            return False
        if self.public_dir is not None and _inside(path, self.public_dir):
            return not _hidden(os.path.relpath(path, self.public_dir))
        if _inside(path, self.pages_dir):
            rel = os.path.relpath(path, self.pages_dir)
            return not _hidden(rel) and os.path.splitext(path)[1].lower() in ASSET_EXTENSIONS
        return False

    def resolve(self, name: str) -> str | None:
        """The file a URL name (``app/blog/page.<digest>.css``) stands for, when its
        digest matches the file's current content; else None."""
        split = split_fingerprint(name)
        if split is None:
            return None
        rel, digest = split
        path = safe_join(self.root, rel)
        if path is None or not self.servable(path):
            return None
        return path if self.digest(path) == digest else None

    def files(self) -> Iterator[str]:
        """Every servable file (for ``nexpress build`` and ``export``)."""
        for top in (self.pages_dir, self.public_dir):
            if top is None or not os.path.isdir(top):
                continue
            for dirpath, dirnames, filenames in os.walk(top):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
                for filename in sorted(filenames):
                    path = os.path.join(dirpath, filename)
                    if self.servable(os.path.realpath(path)):
                        yield os.path.realpath(path)

    def fingerprinted(self) -> Iterator[tuple[str, str]]:
        """(URL path below ``/_nexpress/static/``, file) for every servable file."""
        for path in self.files():
            yield fingerprinted_name(self.rel(path), self.digest(path)), path

    # --- what pages link --------------------------------------------------------------

    def route_assets(self, layout_dirs: list[str], page_dir: str) -> list[str]:
        """The route assets of a page: ``layout.css/js`` of every folder from the root
        down to the page's, then the page's own ``page.css/js`` (absolute paths)."""
        found = []
        for directory in layout_dirs:
            for name in ("layout.css", "layout.js"):
                path = os.path.join(directory, name)
                if os.path.isfile(path):
                    found.append(path)
        for name in ("page.css", "page.js"):
            path = os.path.join(page_dir, name)
            if os.path.isfile(path):
                found.append(path)
        return found

    def tags(self, paths: list[str]) -> str:
        """``<link rel="stylesheet">`` / ``<script defer>`` tags for route assets."""
        tags = []
        for path in paths:
            url = escape(self.url_for_file(path))
            if path.endswith(".css"):
                tags.append(f'<link rel="stylesheet" href="{url}">')
            else:
                tags.append(f'<script defer src="{url}"></script>')
        return "\n".join(tags)

    # --- asset(path) in templates --------------------------------------------------------

    def lookup(self, path: str, template: str | None) -> str:
        """``asset(path)``: ``./x`` or ``../x`` is relative to the calling template's
        folder in ``app/``; anything else is a file of ``public/``.

        A name found once is remembered with its real path and relative name, so the
        next call costs one ``stat`` (the content hash's check), not a ``realpath``
        walk of every folder: a page with a dozen images called it a dozen times."""
        if not isinstance(path, str) or not path:
            raise AssetError("asset() needs a file name, e.g. asset('logo.png') or asset('./hero.png')")
        key = (path, posixpath.dirname(template or "") if path.startswith(".") else "")
        known = self._lookups.get(key)
        if known is not None:
            try:
                return PREFIX + _quote_path(fingerprinted_name(known[1], self.digest(known[0])))
            except OSError:  # removed since: look again (and say what is missing)
                del self._lookups[key]
        real = os.path.realpath(self._find(path, template))
        if len(self._lookups) < _MAX_LOOKUPS:
            self._lookups[key] = (real, self.rel(real))
        return self.url_for_file(real)

    def _find(self, path: str, template: str | None) -> str:
        """The servable file ``asset(path)`` names, or :class:`AssetError` saying where it looked."""
        if path.startswith(("./", "../")):
            folder = posixpath.dirname(template or "")
            rel = posixpath.normpath(posixpath.join(folder, path))
            full = safe_join(self.pages_dir, rel)
            where = f"app/{rel}"
        else:
            if self.public_dir is None:
                raise AssetError(f"asset({path!r}): this app has no public/ folder")
            full = safe_join(self.public_dir, path.lstrip("/"))
            where = f"public/{path.lstrip('/')}"
        if full is None or not self.servable(full):
            raise AssetError(
                f"asset({path!r}): no servable file {where} (a file of public/, or beside the"
                f" template with an asset extension such as .css, .js, .png)"
            )
        return full

    def helper(self) -> Any:
        """The ``asset`` global of the pages' Jinja environment."""
        import jinja2  # loaded with that environment

        @jinja2.pass_context
        def asset(context: Any, path: str) -> str:
            return self.lookup(path, context.name)

        return asset

    def route(self) -> RouteDef:
        """``GET /_nexpress/static/*path``."""
        return RouteDef(
            "GET",
            PREFIX + "*path",
            (AssetEndpoint(self),),
            {},
            "nexpress/pages/assets.py:1",
            "static-file",
            "nexpress (fingerprinted app/ and public/ assets)",
        )


class AssetEndpoint(Endpoint):
    """Serves fingerprinted assets with a year of immutable caching."""

    response_kind = "file"

    def __init__(self, assets: Assets) -> None:
        self.assets = assets
        self.__qualname__ = "fingerprinted_asset"

    async def __call__(self, req: Any, res: Response) -> None:
        path = self.assets.resolve("/".join(req.params["path"]))
        if path is None:
            raise HTTPError(404, "No such asset (or an old version of it): link it with asset() or a route asset")
        res.send_file(path, max_age=IMMUTABLE, immutable=True)


def _inside(path: str, folder: str) -> bool:
    return path.startswith(folder + os.sep)


def _hidden(rel: str) -> bool:
    """Dotfiles and dot-folders are never served (``.env``, ``.git/``)."""
    return any(part.startswith(".") for part in rel.replace(os.sep, "/").split("/"))


def _quote_path(rel: str) -> str:
    return quote(rel, safe="/-._~!$&'()*+,;=:@")
