"""``nexpress cache ls / explain / purge``: the cache seen and steered from outside.

The commands work on the store the app is configured with (``App(cache=...)`` /
``NEXPRESS_CACHE_URL``): SQLite and Redis directly, so a purge reaches every
instance sharing the store. The in-process ``memory://`` store lives inside the
server: the commands reach a running ``nexpress dev`` through ``/_nexpress/api``
(found from ``.nexpress/dev.json``, or ``--url``), and say how to share the cache
otherwise.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import click

from ..cache import Cache, StoreUnavailable
from ..cache.explain import human_age, human_size, invalidators, route_reasons
from ..cache.isr import CachedEndpoint
from ..devtools import BASE, TOKEN_ENV, TOKEN_HEADER, cache_rows, purge
from ..http.errors import HTTPError
from ..http.paths import split_path
from ..http.scope import URL_PATH_SAFE
from ..pages.reasons import ModuleFacts
from ._common import app_argument, load_compiled
from ._devserver import DevServer, find_dev_server

if TYPE_CHECKING:
    import httpx

__all__ = ["cache", "explain_route"]

MEMORY_HELP = """\
This app's cache is {url}: it lives inside the server process.
No `nexpress dev` is running for this folder (.nexpress/dev.json), so there is
nothing to reach. Either:
  - run `nexpress dev` here: these commands reach its cache through {base}/api
    (or pass --url http://127.0.0.1:PORT), or
  - share the cache between the server and this command:
      NEXPRESS_CACHE_URL=sqlite:///.nexpress/cache.db   (the processes of one machine)
      NEXPRESS_CACHE_URL=redis://127.0.0.1:6379/0       (every instance)
    or App(cache="sqlite:///.nexpress/cache.db").
A `nexpress start` server with memory:// cannot be reached from outside."""


# --- where the entries are ------------------------------------------------------------


class CacheView:
    """The entries of one cache, wherever they live."""

    where = ""

    async def rows(self, *, key: str | None = None, tag: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def purge(self, *, tag: str | None = None, path: str | None = None, tree: bool = False, everything: bool = False) -> dict[str, Any]:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class StoreView(CacheView):
    """A shared store (SQLite, Redis) opened by this command."""

    def __init__(self, cache: Cache) -> None:
        self.cache = cache
        self.where = cache.store.url

    async def rows(self, *, key: str | None = None, tag: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        try:
            return await cache_rows(self.cache, key=key, tag=tag, path=path)
        except StoreUnavailable as exc:
            raise click.ClickException(f"cannot reach the cache store: {exc}") from None

    async def purge(self, *, tag: str | None = None, path: str | None = None, tree: bool = False, everything: bool = False) -> dict[str, Any]:
        done = await purge(self.cache, tag=tag, path=path, tree=tree, everything=everything)
        if not self.cache.available:  # the cache layer logs and carries on; a command must fail
            raise click.ClickException(f"cannot reach the cache store {self.where}: nothing was purged")
        return done

    async def close(self) -> None:
        await self.cache.close()


class DevServerView(CacheView):
    """The memory cache of a running ``nexpress dev``, through ``/_nexpress/api``."""

    def __init__(self, server: DevServer) -> None:
        import httpx  # loaded by the commands that talk to a dev server, not by --help

        self.server = server
        self.where = f"memory:// inside nexpress dev at {server.url}"
        self.client = httpx.AsyncClient(
            base_url=server.url, headers={TOKEN_HEADER: server.token}, timeout=10.0, trust_env=False
        )

    async def _call(self, request: Callable[[], Awaitable[httpx.Response]]) -> dict[str, Any]:
        import httpx

        try:
            reply = await request()
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"no nexpress dev server answers at {self.server.url} ({exc}); is it running?"
            ) from None
        if reply.status_code == 404:
            raise click.ClickException(f"{self.server.url} has no {BASE}: it is not a nexpress dev server")
        if reply.status_code != 200:
            try:
                detail = reply.json().get("detail") or reply.text
            except ValueError:
                detail = reply.text
            raise click.ClickException(f"the dev server refused: {reply.status_code} {detail}")
        return reply.json()

    async def rows(self, *, key: str | None = None, tag: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        query = {name: value for name, value in (("key", key), ("tag", tag), ("path", path)) if value is not None}
        data = await self._call(lambda: self.client.get(BASE + "/api/cache", params=query))
        return list(data["entries"])

    async def purge(self, *, tag: str | None = None, path: str | None = None, tree: bool = False, everything: bool = False) -> dict[str, Any]:
        order: dict[str, Any] = {"all": True} if everything else {"tag": tag} if tag is not None else {"path": path, "tree": tree}
        return await self._call(lambda: self.client.post(BASE + "/api/purge", json=order))

    async def close(self) -> None:
        await self.client.aclose()


def open_view(app: Any, url: str | None) -> CacheView:
    """Where this app's entries are: its shared store, or a dev server's memory."""
    if url is not None:
        found = find_dev_server(os.getcwd(), app.root)
        token = found.token if found is not None else os.environ.get(TOKEN_ENV, "")
        return DevServerView(DevServer(url.rstrip("/"), token, 0))
    if urlsplit(app.cache_url).scheme.lower() != "memory":
        return StoreView(app.cache)
    found = find_dev_server(os.getcwd(), app.root)
    if found is None:
        raise click.ClickException(MEMORY_HELP.format(url=app.cache_url, base=BASE))
    return DevServerView(found)


def run_with_view(app: Any, url: str | None, work: Callable[[CacheView], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        view = open_view(app, url)
        try:
            return await work(view)
        finally:
            await view.close()

    return asyncio.run(main())


class Unreachable(CacheView):
    """A memory cache no command can reach: ``explain`` still tells the route."""

    def __init__(self, message: str) -> None:
        self.where = message

    async def rows(self, *, key: str | None = None, tag: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
        raise click.ClickException(self.where)


# --- why a route is (not) cached ---------------------------------------------------------


def _file_line(site: str) -> tuple[str, int | None]:
    """``app/x/page.py:3`` -> (file, 3); a site with a function name keeps the file."""
    location = site.split(" ", 1)[0]
    file, _, line = location.rpartition(":")
    if file and line.isdigit():
        return file, int(line)
    return location, None


def explain_route(route: Any, root: str) -> dict[str, Any]:
    """``{"mode", "revalidate", "reasons"}`` for any route: pages carry theirs from
    discovery; ``route.py`` GETs, files and Express handlers are told here."""
    recorded = route.info.get("cache")
    if recorded is not None:
        return recorded
    file, line = _file_line(route.site)
    handler = route.handler
    if isinstance(handler, CachedEndpoint):  # a route.py GET with revalidate
        facts = ModuleFacts(os.path.join(root, route.source))
        return route_reasons(
            route.kind, route.method, route.source, file, line,
            revalidate=handler.revalidate, revalidate_line=facts.assignments.get("revalidate"),
        )  # fmt: skip
    return route_reasons(route.kind, route.method, route.source, file, line)


def _url_path(url: str) -> str:
    """The path of a URL or path, percent-encoded as a request line carries it."""
    parts = urlsplit(url)
    path = parts.path if parts.scheme or url.startswith("//") else url.partition("?")[0].partition("#")[0]
    if not path.startswith("/"):
        raise click.BadParameter(f"{url!r}: give a path such as /blog/hello, or a full URL", param_hint="URL")
    return quote(path, safe=URL_PATH_SAFE + "%")


async def explanation(app: Any, view: CacheView, url: str) -> dict[str, Any]:
    """Everything ``explain`` says about ``url``, as data."""
    raw = _url_path(url)
    try:
        segs = split_path(raw)
    except HTTPError as exc:
        raise click.BadParameter(f"{url!r}: {exc.detail}", param_hint="URL") from None
    found = app.table.match("GET", segs)
    if found is None:
        stripped = raw.rstrip("/")
        if stripped and stripped != raw and app.table.match("GET", split_path(stripped)) is not None:
            return {"url": url, "path": raw, "route": None, "redirect": stripped}  # as the server: 308
        return {"url": url, "path": raw, "route": None}
    route, params = found
    file, line = _file_line(route.site)
    info: dict[str, Any] = {
        "url": url,
        "path": raw,
        "route": {"pattern": route.path, "kind": route.display, "file": file, "line": line, "params": params},
        **explain_route(route, app.root),
        "key": None,
        "entry": None,
        "data": [],
        "invalidated_by": {"calls": [], "commands": []},
    }
    handler = route.handler
    if not isinstance(handler, CachedEndpoint):
        return info
    _path, key = handler.key(raw)
    info["key"] = key
    info["invalidated_by"] = invalidators(key, [])
    if isinstance(view, Unreachable):
        info["unreachable"] = view.where
        return info
    rows = await view.rows(key=key)
    entry = rows[0] if rows else None
    info["entry"] = entry
    tags = entry["tags"] if entry else []
    for call in entry["calls"] if entry else []:
        data = await view.rows(key=call["key"]) if call["key"] else []
        info["data"].append({**call, "entry": data[0] if data else None})
    info["invalidated_by"] = invalidators(key, tags)
    return info


# --- printing -------------------------------------------------------------------------------


def _clock(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%H:%M:%S")


def _where(item: dict[str, Any]) -> str:
    return f"{item['file']}:{item['line']}" if item.get("line") else item["file"]


def _freshness(entry: dict[str, Any], now: float) -> str:
    if entry["stale_at"] is None:
        return "static: fresh until invalidated"
    left = entry["stale_at"] - now
    if left > 0:
        return f"fresh: goes stale in {human_age(left)} (at {_clock(entry['stale_at'])})"
    text = f"stale for {human_age(-left)}: the next request gets it (STALE) and regenerates it"
    if entry["state"] == "stale, regeneration failed":
        text = "stale: its last regeneration failed; still served (STALE) until one succeeds"
    return text


def _data_note(data: dict[str, Any] | None, now: float) -> str:
    if data is None:
        return "data not cached now (the next call runs it)"
    if data["expires"] is None:
        return "data cached until invalidated"
    return f"data cached, expires in {human_age(data['expires'] - now)}"


def print_explanation(info: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console(highlight=False, width=max(100, Console().width))

    def line(label: str, text: str) -> None:
        console.print(f"  {label:<12} {text}", markup=False, soft_wrap=True)

    console.print(f"[bold]{escape(info['url'])}[/bold]")
    route = info["route"]
    if route is None and info.get("redirect"):
        line("route", f"none: the server redirects (308) to {info['redirect']}; explain that URL")
        return
    if route is None:
        line("route", "none: GET answers 404 (nexpress routes shows the table)")
        return
    line("route", f"GET {route['pattern']}  ({route['kind']})")
    line("file", _where(route))
    mode = info["mode"]
    if mode == "isr":
        line("mode", f"ISR, revalidate = {info['revalidate']}s: cached, regenerated in the background when stale")
    elif mode == "static":
        line("mode", "static: rendered once, cached until invalidated")
    elif mode == "file":
        line("mode", "file")
    else:
        line("mode", "dynamic: rendered for every request, never cached")
    for index, item in enumerate(info["reasons"]):
        line("why" if index == 0 else "", f"{item['reason']}  ({_where(item)})")
    for index, item in enumerate(info.get("holes", [])):
        line("holes" if index == 0 else "", f"{item['reason']}  ({_where(item)})")
    if info.get("holes"):
        line("", "the shell is cached with each hole's fallback; the answer is Cache-Control: private")
    if info["key"] is None:
        return
    now = time.time()
    entry = info["entry"]
    if "unreachable" in info:
        line("entry", f"{info['key']}: unknown, the cache is out of reach:")
        for text in info["unreachable"].splitlines():
            line("", text)
    elif entry is None:
        line("entry", f"{info['key']}: none; the next request renders and stores it (MISS)")
    else:
        line("entry", f"{info['key']}  ({entry['kind']}, {human_size(entry['size'])})")
        line("age", f"{human_age(entry['age'])}, {_freshness(entry, now)}")
        line("tags", ", ".join(entry["tags"]) or "none (no @cached call carried a tag)")
        for index, data in enumerate(info["data"]):
            tags = f" (tags: {', '.join(data['tags'])})" if data["tags"] else ""
            line("from" if index == 0 else "", f"{data['function']}{tags}; {_data_note(data['entry'], now)}")
        if not info["data"]:
            line("from", "no @cached function")
    dropped = info["invalidated_by"]
    for index, text in enumerate([*dropped["calls"], *dropped["commands"]]):
        line("dropped by" if index == 0 else "", text)


def print_rows(rows: list[dict[str, Any]], where: str) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if not rows:
        click.echo(f"no entries in {where}")
        return
    out = Table(box=None, header_style="bold", pad_edge=False)
    for column, justify in (("KEY", "left"), ("KIND", "left"), ("TAGS", "left"), ("AGE", "right"), ("SIZE", "right"), ("STATE", "left")):
        out.add_column(column, justify=justify, no_wrap=True)
    lines = [
        (row["path"] or row["key"], row["kind"], ",".join(row["tags"]) or "-", human_age(row["age"]), human_size(row["size"]), row["state"])
        for row in rows
    ]
    for cells in lines:
        out.add_row(*(escape(cell) for cell in cells))
    natural = sum(max(len(c[i]) for c in lines) + 2 for i in range(6)) + 8
    Console(width=max(120, Console().width, natural)).print(out)  # never truncate a cell


# --- the commands ---------------------------------------------------------------------------

url_option = click.option("--url", default=None, help="The nexpress dev server to ask (memory:// cache), e.g. http://127.0.0.1:3000.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group()
def cache() -> None:
    """See and steer the cache: ls, explain, purge."""


@cache.command("ls")
@app_argument
@click.option("--tag", default=None, help="Only entries carrying this tag.")
@click.option("--path", default=None, help="Only pages at this path or below it.")
@json_option
@url_option
def ls(app: str | None, tag: str | None, path: str | None, as_json: bool, url: str | None) -> None:
    """One row per entry: key or path, kind, tags, age, size, fresh/stale."""
    application = load_compiled(app)
    view_where: list[str] = []

    async def work(view: CacheView) -> list[dict[str, Any]]:
        view_where.append(view.where)
        return await view.rows(tag=tag, path=path)

    rows = run_with_view(application, url, work)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        print_rows(rows, view_where[0])


@cache.command("explain")
@click.argument("target_url", metavar="URL")
@app_argument
@json_option
@url_option
def explain(target_url: str, app: str | None, as_json: bool, url: str | None) -> None:
    """Why URL is (not) cached: route, file, mode and why, entry, tags and the
    @cached functions they came from, age, and what would drop it."""
    application = load_compiled(app)

    async def main() -> dict[str, Any]:
        try:
            view = open_view(application, url)
        except click.ClickException as exc:  # memory:// and no dev server: the route still
            view = Unreachable(exc.message)
        try:
            return await explanation(application, view, target_url)
        finally:
            await view.close()

    info = asyncio.run(main())
    if as_json:
        click.echo(json.dumps(info, indent=2))
    else:
        print_explanation(info)
    if info["route"] is None:
        raise SystemExit(1)


@cache.command("purge")
@app_argument
@click.option("--tag", default=None, help="Drop every entry carrying this tag (as revalidate_tag).")
@click.option("--path", default=None, help="Drop the page at this path (as revalidate_path).")
@click.option("--tree", is_flag=True, help="With --path: everything below it too.")
@click.option("--all", "everything", is_flag=True, help="Drop every entry.")
@url_option
def purge_command(app: str | None, tag: str | None, path: str | None, tree: bool, everything: bool, url: str | None) -> None:
    """Invalidate through the store, for every instance sharing it: --tag T,
    --path P [--tree] or --all."""
    chosen = [name for name, given in (("--tag", tag is not None), ("--path", path is not None), ("--all", everything)) if given]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --tag T, --path P [--tree] or --all")
    if tree and path is None:
        raise click.UsageError("--tree goes with --path")
    if path is not None and not path.startswith("/"):
        raise click.BadParameter("a URL path, starting with /", param_hint="--path")
    application = load_compiled(app)
    where: list[str] = []

    async def work(view: CacheView) -> dict[str, Any]:
        where.append(view.where)
        return await view.purge(tag=tag, path=path, tree=tree, everything=everything)

    done = run_with_view(application, url, work)
    if everything:
        click.echo(f"purged every entry of {where[0]}")
    elif tag is not None:
        keys = done.get("keys", [])
        click.echo(f"purged tag {tag}: {len(keys)} entries of {where[0]}")
        for key in keys:
            click.echo(f"  {key}")
    else:
        click.echo(f"purged {path}{' and everything below it' if tree else ''} in {where[0]}")
