"""``nexpress export``: a static site (HTML files, ``public/``, the client script), refusing apps with routes that need a server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from ..cache.isr import CachedEndpoint, bare_request
from ..http.errors import html_page
from ..http.scope import http_scope, no_body
from ..i18n.routing import LocaleRedirect, LocaleSwitch
from ..pages import client
from ..pages.assets import PREFIX
from ..pages.forms import SLOT_PREFIX
from .basepath import prefix_urls
from .output import write_assets
from .prerender import BuildError, Result, failures_message, prerender

SERVER_KINDS = ("dynamic", "api", "handler", "asgi", "action")
LOCALE_HELPERS = (LocaleRedirect, LocaleSwitch)


def export_client_files(app: Any, out: str) -> None:
    """client.js and the fingerprinted assets, where exported pages link them."""
    if app.file_routes is None:
        return
    write_assets(app, os.path.join(out, *PREFIX.strip("/").split("/")))
    scripts = os.path.join(out, "_nexpress")
    os.makedirs(scripts, exist_ok=True)
    for url in (client.url(), client.PLAIN_URL):
        shutil.copyfile(client.PATH, os.path.join(scripts, url.rsplit("/", 1)[1]))


def check_no_forms(results: list[Result]) -> None:
    """A page that renders ``csrf()`` posts a form to the server: it cannot be exported."""
    pages = [r for r in results if r.entry is not None and SLOT_PREFIX in r.entry.body]
    if pages:
        lines = "\n".join(f"  {r.target.path}  ({r.target.route.source})" for r in pages)
        raise BuildError(f"cannot export: these pages render csrf() for a form that needs a server:\n{lines}")


def server_routes(app: Any) -> list[dict[str, Any]]:
    """Routes a static export cannot serve: handlers, APIs, dynamic pages, and cached
    pages with parameters but no ``static_params()`` to list them (nothing to write)."""
    rows = []
    # the language switcher and the unprefixed-URL redirects of an app with locales: a
    # static site has its pages in every locale and does without them
    helpers = {(route.path, route.source) for route in app.table.routes if isinstance(route.handler, LOCALE_HELPERS)}
    for row in app.table.describe():
        if row["source"].endswith(("app/sitemap.py", "app/robots.py")) or row["source"] in ("sitemap.py", "robots.py"):
            continue
        if (row["path"], row["source"]) in helpers:
            continue
        if row["kind"] in SERVER_KINDS:
            rows.append(row)
    unlisted = {
        (route.path, route.source)
        for route in app.table.routes
        if isinstance(route.handler, CachedEndpoint) and route.param_names and route.handler.static_params is None
    }
    for row in app.table.describe():
        if (row["path"], row["source"]) in unlisted:
            rows.append({**row, "kind": f"{row['kind']}, no static_params()"})
    return rows


def check_exportable(app: Any) -> None:
    """Raise BuildError naming every route a static export cannot serve."""
    blockers = server_routes(app)
    if blockers:
        lines = "\n".join(f"  {','.join(r['methods'])} {r['path']}  ({r['kind']}, {r['source']})" for r in blockers)
        raise BuildError(f"cannot export: these routes need a server:\n{lines}")


def output_file(out: str, path: str, content_type: str) -> str:
    """Where a rendered URL goes: an HTML page at ``path/index.html`` (what static hosts
    serve for ``path/``), anything else (``/search.json``, ``/feed.xml``) at ``path``
    itself, so the host sends it with the type its extension names."""
    path = unquote(path).strip("/")
    if not path:
        return os.path.join(out, "index.html")
    if content_type and not content_type.startswith("text/html"):
        return os.path.join(out, *path.split("/"))
    return os.path.join(out, *path.split("/"), "index.html")


def _content_type(result: Result) -> str:
    headers = result.entry.headers if result.entry is not None else []
    return next((value.lower() for name, value in headers if name.lower() == "content-type"), "")


async def export(app: Any, out: str, on_done: Callable[[Result], None] | None = None, base_path: str = "") -> list[Result]:
    """Write a static site to ``out``; BuildError names the routes needing a server.
    ``base_path`` (``/project``, see :mod:`.basepath`) is put in front of the
    root-relative URLs of the HTML files, for a site served below a path."""
    check_exportable(app)
    results = await prerender(app, on_done)
    failed = [r for r in results if r.entry is None]
    if failed:
        raise BuildError(failures_message(failed))
    check_no_forms(results)
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    for result in results:
        content_type = _content_type(result)
        target = output_file(out, result.target.path, content_type)
        body = result.entry.body  # type: ignore[union-attr]
        if content_type.startswith("text/html"):
            body = prefix_urls(body, base_path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(body)
    if app.public:
        public = os.path.join(app.root, app.public)
        if os.path.isdir(public):
            shutil.copytree(public, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".*"))
    export_client_files(app, out)
    for url in ("/sitemap.xml", "/robots.txt"):
        body = await _fetch(app, url)
        if body is not None:
            with open(os.path.join(out, url.lstrip("/")), "wb") as fh:
                fh.write(body)
    with open(os.path.join(out, "404.html"), "wb") as fh:
        fh.write(prefix_urls(await not_found_page(app), base_path))
    # GitHub Pages runs Jekyll unless told not to, and Jekyll drops folders starting
    # with "_" (/_nexpress/: the client script and the assets)
    open(os.path.join(out, ".nojekyll"), "wb").close()
    return results


async def not_found_page(app: Any) -> bytes:
    """``404.html`` for static hosts: the root ``not-found.html`` in its layouts, else
    the default page."""
    if app.file_routes is not None:
        page = await app.file_routes.error_page(404, "Not Found", None, bare_request(app.context, "/404", {}))
        if page is not None:
            return page.encode("utf-8")
    return html_page(404, "Not Found", None)


async def _fetch(app: Any, path: str) -> bytes | None:
    """GET ``path`` through the app in-process (for sitemap.xml / robots.txt)."""
    status: list[int] = []
    chunks: list[bytes] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    host = urlsplit(app.base_url).netloc if app.base_url else "localhost"
    await app(http_scope("GET", path.encode("ascii"), headers=[(b"host", host.encode("idna"))]), no_body(), send)
    return b"".join(chunks) if status == [200] else None
