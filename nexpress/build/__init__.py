"""``nexpress build`` and ``nexpress export``: prerender static and ISR pages.

``build`` renders every static and ISR page (each ``static_params()`` entry of a
dynamic segment too) with a bare request, in parallel, and writes them to
``.nexpress/`` with a manifest. At start-up, ``App`` loads the manifest into its
cache (``PRERENDER``), so ``nexpress start`` serves them without rendering.
``export`` writes a static site: HTML files, ``public/``, ``sitemap.xml`` and
``robots.txt``; it refuses apps with routes that need a server, naming them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from ..cache import Entry
from ..cache.isr import CachedEndpoint, bare_request
from ..cache.manifest import MANIFEST, output_dir, source_digests
from ..http.errors import html_page
from ..http.scope import http_scope
from ..pages import client
from ..pages.assets import PREFIX
from ..pages.forms import SLOT_PREFIX
from ..routing.pattern import fill

SERVER_KINDS = ("dynamic", "api", "handler", "asgi", "action")


class BuildError(Exception):
    """A page failed to prerender, or an export needs a server; the message says which."""


@dataclass
class Target:
    route: Any
    path: str
    params: dict[str, Any]
    endpoint: CachedEndpoint

    @property
    def revalidate(self) -> int | None:
        return self.endpoint.revalidate


@dataclass
class Result:
    target: Target
    entry: Entry | None
    seconds: float
    error: str | None = None


async def targets(app: Any) -> list[Target]:
    """Every (route, path) to prerender."""
    table = app.table
    found: list[Target] = []
    seen: set[str] = set()
    for route in table.routes:
        handler = route.handler
        if route.method != "GET" or not isinstance(handler, CachedEndpoint) or handler.api:
            continue
        if not route.param_names:
            paths = [(fill(route.segments, {}), {})]
        else:
            static_params = handler.static_params
            if static_params is None:
                continue  # rendered on first request, then cached (dynamic_params)
            entries = static_params()
            if asyncio.iscoroutine(entries):
                entries = await entries
            paths = []
            for params in entries or ():
                if set(params) != set(route.param_names):
                    continue  # e.g. [[...path]] entries without the path belong to the bare route
                paths.append((fill(route.segments, params), dict(params)))
        for path, params in paths:
            if "%2f" in path.lower():
                continue  # a "/" inside a value: its decoded path is another route's (served uncached)
            if path not in seen:
                seen.add(path)
                found.append(Target(route, path, params, handler))
    return found


async def prerender(app: Any, on_done: Callable[[Result], None] | None = None, concurrency: int = 8) -> list[Result]:
    """Render every target in parallel (bounded), reporting each as it finishes."""
    limit = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> Result:
        async with limit:
            start = time.perf_counter()
            try:
                entry = await target.endpoint.render_entry(unquote(target.path), target.params)
                error = None if entry is not None else "did not render a 200 page"
            except Exception as exc:  # reported per page, the build fails at the end
                entry, error = None, f"{type(exc).__name__}: {exc}"
            result = Result(target, entry, time.perf_counter() - start, error)
            if on_done is not None:
                on_done(result)
            return result

    return list(await asyncio.gather(*(one(t) for t in await targets(app))))


def write_output(app: Any, results: list[Result]) -> str:
    """Write the pages and manifest to ``.nexpress/``; returns the manifest path."""
    folder = output_dir(app.root)
    pages_dir = os.path.join(folder, "pages")
    if os.path.isdir(pages_dir):
        shutil.rmtree(pages_dir)
    os.makedirs(pages_dir, exist_ok=True)
    built = time.time()
    pages = []
    for result in results:
        entry = result.entry
        if entry is None:
            continue
        path = unquote(result.target.path)
        name = hashlib.sha256(path.encode()).hexdigest()[:24] + ".html"
        with open(os.path.join(pages_dir, name), "wb") as fh:
            fh.write(entry.body)
        pages.append(
            {
                "path": path,
                "file": f"pages/{name}",
                "route": result.target.route.path,
                "source": result.target.route.source,
                "revalidate": result.target.revalidate,
                "tags": entry.tags,
                "calls": [{"function": c.function, "tags": c.tags, "key": c.key} for c in entry.calls],
                "headers": entry.headers,
                "size": len(entry.body),
                "ms": round(result.seconds * 1000, 1),
            }
        )
    assets = write_assets(app, os.path.join(folder, "static"))
    manifest = os.path.join(folder, MANIFEST)
    with open(manifest, "w", encoding="utf-8") as fh:
        sources = source_digests(app.root, app.source_folders())  # start-up compares them (stale output)
        json.dump({"version": 1, "built": built, "pages": pages, "assets": assets, "sources": sources}, fh, indent=1)
    return manifest


def write_assets(app: Any, folder: str) -> list[dict[str, Any]]:
    """Copy every fingerprinted asset (route assets and other asset files of
    ``app/``, the files of ``public/``) into ``folder`` under its fingerprinted name;
    the manifest rows say which source each came from."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    rows: list[dict[str, Any]] = []
    file_routes = app.file_routes
    if file_routes is None:
        return rows
    for name, path in file_routes.assets.fingerprinted():
        target = os.path.join(folder, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(path, target)
        rows.append({"source": os.path.relpath(path, app.root).replace(os.sep, "/"), "file": f"static/{name}", "url": PREFIX + name})
    return rows


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
    for row in app.table.describe():
        if row["source"].endswith(("app/sitemap.py", "app/robots.py")) or row["source"] in ("sitemap.py", "robots.py"):
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


async def export(app: Any, out: str, on_done: Callable[[Result], None] | None = None) -> list[Result]:
    """Write a static site to ``out``; BuildError names the routes needing a server."""
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
        path = unquote(result.target.path).strip("/")
        target = os.path.join(out, path, "index.html") if path else os.path.join(out, "index.html")
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as fh:
            fh.write(result.entry.body)  # type: ignore[union-attr]
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
        fh.write(await not_found_page(app))
    return results


async def not_found_page(app: Any) -> bytes:
    """``404.html`` for static hosts: the root ``not-found.html`` in its layouts, else
    the default page."""
    if app.file_routes is not None:
        page = await app.file_routes.error_page(404, "Not Found", None, bare_request(app, "/404", {}))
        if page is not None:
            return page.encode("utf-8")
    return html_page(404, "Not Found", None)


async def _fetch(app: Any, path: str) -> bytes | None:
    """GET ``path`` through the app in-process (for sitemap.xml / robots.txt)."""
    status: list[int] = []
    chunks: list[bytes] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    host = urlsplit(app.base_url).netloc if app.base_url else "localhost"
    await app(http_scope("GET", path.encode("ascii"), headers=[(b"host", host.encode("idna"))]), receive, send)
    return b"".join(chunks) if status == [200] else None


def failures_message(failed: list[Result]) -> str:
    lines = "\n".join(f"  {r.target.path}  ({r.target.route.source}): {r.error}" for r in failed)
    return f"{len(failed)} page(s) failed to prerender:\n{lines}"
