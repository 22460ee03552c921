"""``/_nexpress``: what the app is doing, in dev only (``App.debug``).

- ``GET /_nexpress``: one server-rendered page (inline CSS, no script, no external
  asset) listing every route (kind, methods, pattern, file, middleware, layouts),
  the cache entries with their tags and state, and the last requests (method,
  path, status, duration, cache state, source file), with a purge button per tag
  (a POST carrying the CSRF token of :mod:`nexpress.http.csrf`).
- ``GET /_nexpress/api/cache`` and ``POST /_nexpress/api/purge``: what
  ``nexpress cache ls / explain / purge`` use to reach an in-process
  ``memory://`` cache. They need the token ``nexpress dev`` writes to
  ``.nexpress/dev.json`` (header ``x-nexpress-dev-token``).

Everything answers only over loopback (the peer address *and* the ``Host``
header, so a DNS-rebound page cannot read it) and is escaped (Jinja2 autoescape,
and a Content-Security-Policy that allows no script). None of it exists when
``debug`` is off: ``nexpress start`` answers 404. The request log is an ASGI
wrapper added around the dispatcher only in debug, so production pays nothing.
"""

from __future__ import annotations

import functools
import hmac
import ipaddress
import os
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .cache import Cache
from .cache.explain import entry_row, human_age, human_size
from .http import csrf
from .http.errors import HTTPError
from .http.request import Request
from .http.response import Response, framework_headers
from .http.writer import ROUTE_HEADER
from .middleware import Middleware, middleware_name
from .routing.plugin import Plugin
from .routing.router import RouteDef

__all__ = ["BASE", "TOKEN_ENV", "TOKEN_HEADER", "DevTools", "RequestLog", "loopback_host", "loopback_peer", "matches"]

BASE = "/_nexpress"
TOKEN_ENV = "NEXPRESS_DEV_TOKEN"
TOKEN_HEADER = "x-nexpress-dev-token"
SOURCE = "nexpress/devtools.py"
MAX_SHOWN = 500  # cache entries listed on the page (all are counted)


# --- who may ask ----------------------------------------------------------------------


def loopback_peer(scope: dict) -> bool:
    """The TCP peer is this machine (127.0.0.0/8, ::1)."""
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(str(client[0]).split("%")[0]).is_loopback
    except ValueError:
        return False


def loopback_host(host: str | None) -> bool:
    """The ``Host`` header names this machine (``localhost``, ``127.0.0.1``,
    ``[::1]``, with any port): a DNS-rebinding page sends its own name instead."""
    if not host:
        return False
    host = host.strip().lower()
    if host.startswith("["):
        name = host[1 : host.find("]")] if "]" in host else ""
    else:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LoopbackOnly(Middleware):
    """Refuse (403) a dev-tools request from another machine or through another name."""

    source = SOURCE

    def __repr__(self) -> str:
        return "loopback_only"

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        if not loopback_peer(req.scope) or not loopback_host(req.get("host")):
            raise HTTPError(
                403,
                f"{BASE} answers only on this machine: open it as http://127.0.0.1:<port>{BASE}"
                " or http://localhost:<port>" + BASE,
            )
        await next()


# --- the request log ------------------------------------------------------------------


@dataclass(slots=True)
class Record:
    """One request as the dev page lists it."""

    at: float
    method: str
    path: str
    status: int
    ms: float
    cache: str
    source: str


class RequestLog:
    """The last ``size`` requests (a ring buffer), recorded by an ASGI wrapper
    around the dispatcher: what was asked, what was answered, and how long it took
    until the last byte (for a stream: until it ended)."""

    def __init__(self, size: int = 200) -> None:
        self.records: deque[Record] = deque(maxlen=size)

    def wrap(self, dispatch: Callable[[dict, Callable, Callable], Awaitable[None]]) -> Callable[[dict, Callable, Callable], Awaitable[None]]:
        async def recorded(scope: dict, receive: Callable, send: Callable) -> None:
            path = scope.get("path", "")
            if path == BASE or path.startswith(BASE + "/"):
                await dispatch(scope, receive, send)
                return
            seen: dict[str, Any] = {"status": 0, "cache": "", "source": ""}
            started = time.perf_counter()

            async def watch(message: dict) -> None:
                if message["type"] == "http.response.start":
                    seen["status"] = message["status"]
                    for name, value in message.get("headers", ()):
                        if name == b"x-nexpress-cache":
                            seen["cache"] = value.decode("latin-1")
                        elif name == ROUTE_HEADER:
                            seen["source"] = value.decode("utf-8", "replace")
                await send(message)

            try:
                await dispatch(scope, receive, watch)
            finally:
                query = scope.get("query_string", b"").decode("latin-1")
                self.records.appendleft(
                    Record(
                        time.time(),
                        scope.get("method", ""),
                        path + ("?" + query if query else ""),
                        seen["status"],
                        (time.perf_counter() - started) * 1000,
                        seen["cache"],
                        seen["source"],
                    )
                )

        return recorded


# --- filters shared with the CLI -------------------------------------------------------


def matches(row: dict[str, Any], tag: str | None = None, path: str | None = None) -> bool:
    """Does an entry row pass ``--tag`` (carries it) and ``--path`` (at the path or
    below it)?"""
    if tag is not None and tag not in row["tags"]:
        return False
    if path is not None:
        own = row["path"]
        if own is None:
            return False
        base = "/" + path.strip("/") if path.strip("/") else "/"
        if not (own == base or base == "/" or own.startswith(base + "/")):
            return False
    return True


async def cache_rows(cache: Cache, *, key: str | None = None, tag: str | None = None, path: str | None = None) -> list[dict[str, Any]]:
    """Rows of the cache's entries (one key, or those passing the filters), by key."""
    now = time.time()
    if key is not None:
        entry = await cache.store.get(key)
        return [] if entry is None else [entry_row(key, entry, now)]
    rows = [entry_row(k, e, now) async for k, e in cache.store.entries()]
    return sorted((r for r in rows if matches(r, tag, path)), key=lambda r: r["key"])


async def purge(cache: Cache, *, tag: str | None = None, path: str | None = None, tree: bool = False, everything: bool = False) -> dict[str, Any]:
    """The invalidation ``nexpress cache purge`` asks for, through the cache (so it
    reaches every instance sharing the store)."""
    if everything:
        await cache.purge_all()
        return {"purged": "all"}
    if tag is not None:
        return {"purged": "tag", "tag": tag, "keys": sorted(await cache.revalidate_tag(tag))}
    if path is not None:
        await cache.revalidate_path(path, tree=tree)
        return {"purged": "path", "path": path, "tree": tree}
    raise HTTPError(400, "Say what to purge: tag, path (with tree) or all")


# --- the page and the endpoints ------------------------------------------------------------

PAGE_SOURCE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nexpress dev</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem;color:#1d2330;background:#fafbfc}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.8rem 0 .5rem}
p.note{color:#5b6475;margin:.2rem 0 .8rem}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e3e6eb}
th,td{text-align:left;padding:.3rem .55rem;border-bottom:1px solid #eef0f3;vertical-align:top}
th{background:#f2f4f7;font-weight:600;font-size:.8rem;text-transform:uppercase;color:#4a5263}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,monospace}
.tag{display:inline-block;background:#eef2ff;color:#3341a5;border-radius:3px;padding:0 .35rem;margin:0 .2rem .15rem 0}
.fresh,.HIT,.PRERENDER{color:#1d7a3a}.stale,.STALE{color:#a3620a}.MISS{color:#5b6475}
.s4{color:#a3620a}.s5{color:#b42318}
form{display:inline;margin:0}button{font:inherit;font-size:.8rem;padding:.1rem .5rem;cursor:pointer}
.muted{color:#8a93a3}
</style></head><body>
<h1>nexpress dev</h1>
<p class="note">{{ routes|length }} routes, {{ total }} cache entries in <code>{{ store }}</code>,
the last {{ requests|length }} requests. Only in <code>nexpress dev</code>; reload to refresh.</p>
{% if notice %}<p class="note"><strong>{{ notice }}</strong></p>{% endif %}

<h2>Routes</h2>
<table><tr><th>Methods</th><th>Pattern</th><th>Kind</th><th>File</th><th>Middleware</th><th>Layouts</th></tr>
{% for r in routes %}<tr><td><code>{{ r.methods|join(",") }}</code></td><td><code>{{ r.path }}</code></td>
<td>{{ r.kind }}</td><td><code>{{ r.source }}</code></td>
<td>{% for m in r.middleware %}<code>{{ m.name }}</code> <span class="muted">{{ m.site }}</span><br>{% else %}<span class="muted">none</span>{% endfor %}</td>
<td>{% for l in r.layouts %}<code>{{ l }}</code><br>{% else %}<span class="muted">none</span>{% endfor %}</td></tr>
{% endfor %}</table>

<h2>Cache</h2>
{% if tags %}<p class="note">Purge by tag (as <code>revalidate_tag</code>):
{% for tag, count in tags %}<form method="post" action="{{ base }}/purge"><input type="hidden" name="csrfToken" value="{{ token }}"><input type="hidden" name="tag" value="{{ tag }}"><button type="submit" title="drop {{ count }} entries">{{ tag }} ({{ count }})</button></form> {% endfor %}
<form method="post" action="{{ base }}/purge"><input type="hidden" name="csrfToken" value="{{ token }}"><input type="hidden" name="all" value="1"><button type="submit">everything</button></form></p>{% endif %}
<table><tr><th>Key</th><th>Kind</th><th>Tags</th><th>From</th><th>Age</th><th>Size</th><th>State</th></tr>
{% for e in entries %}<tr><td><code>{{ e.path or e.key }}</code></td><td>{{ e.kind }}</td>
<td>{% for t in e.tags %}<span class="tag">{{ t }}</span>{% endfor %}</td>
<td>{% for c in e.calls %}<code>{{ c.function }}</code><br>{% endfor %}</td>
<td>{{ e.age|age }}</td><td>{{ e.size|size }}</td><td class="{{ e.state.split(',')[0] }}">{{ e.state }}</td></tr>
{% else %}<tr><td colspan="7" class="muted">empty</td></tr>{% endfor %}
{% if total > entries|length %}<tr><td colspan="7" class="muted">and {{ total - entries|length }} more (nexpress cache ls)</td></tr>{% endif %}
</table>

<h2>Last requests</h2>
<table><tr><th>When</th><th>Method</th><th>Path</th><th>Status</th><th>Time</th><th>Cache</th><th>Source</th></tr>
{% for q in requests %}<tr><td class="muted">{{ (now - q.at)|age }} ago</td><td>{{ q.method }}</td><td><code>{{ q.path }}</code></td>
<td class="s{{ q.status // 100 }}">{{ q.status }}</td><td>{{ "%.1f"|format(q.ms) }} ms</td><td class="{{ q.cache }}">{{ q.cache }}</td><td><code>{{ q.source }}</code></td></tr>
{% else %}<tr><td colspan="7" class="muted">none yet</td></tr>{% endfor %}
</table>
</body></html>
"""


@functools.cache
def page_template() -> Any:
    """The page, compiled on its first request: Jinja2 loads then, not with the app
    (devtools exists in every debug app; most never open the page)."""
    import jinja2

    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["age"] = human_age
    env.filters["size"] = human_size
    return env.from_string(PAGE_SOURCE)


_PAGE_HEADERS = {
    "cache-control": "no-store",
    **framework_headers("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'"),
}


def route_rows(table: Any) -> list[dict[str, Any]]:
    """Every route of the table once (methods grouped), with its chain and layouts."""
    grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
    for route in table.routes:
        if route.kind == "dev":
            continue
        row = grouped.setdefault(
            (route.path, route.display, route.source),
            {
                "methods": [],
                "path": route.path,
                "kind": route.display,
                "source": route.source,
                "middleware": [
                    {"name": middleware_name(step.fn), "site": step.site}
                    for step in route.middleware
                ],
                "layouts": list(route.info.get("layouts", [])),
            },
        )
        method = "ALL" if route.method == "*" else route.method
        if method not in row["methods"]:
            row["methods"].append(method)
    return sorted(grouped.values(), key=lambda r: (r["path"], r["methods"]))


class DevTools(Plugin):
    """The dev page, its endpoints and the request log of one app in debug: a plugin
    ``App`` installs when it starts in debug; its routes exist while ``debug`` is on."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log = RequestLog()
        self.token = os.environ.get(TOKEN_ENV) or None
        self.fallback_secret = secrets.token_urlsafe(32)

    @property
    def secret(self) -> str:
        """What the purge buttons' CSRF tokens are keyed with: the app's secret (read
        now: a start-up handler may set it), else one made for this process."""
        try:
            return csrf.secret_for(self.app)
        except csrf.MissingSecret:
            return self.fallback_secret

    def routes(self) -> list[RouteDef]:
        if not self.app.debug:  # /_nexpress: dev only, so production has no such route
            return []
        guard = LoopbackOnly()
        site = f"{SOURCE}:1"

        def route(method: str, path: str, handler: Callable) -> RouteDef:
            return RouteDef(method, path, (guard, handler), {}, site, "dev", SOURCE)

        return [
            route("GET", BASE, self.page),
            route("POST", BASE + "/purge", self.purge_form),
            route("GET", BASE + "/api/cache", self.api_cache),
            route("POST", BASE + "/api/purge", self.api_purge),
        ]

    # --- the page ---------------------------------------------------------------------

    async def page(self, req: Request, res: Response) -> None:
        cache: Cache = self.app.cache
        rows = await cache_rows(cache)
        tags: dict[str, int] = {}
        for row in rows:
            for tag in row["tags"]:
                tags[tag] = tags.get(tag, 0) + 1
        notice = _notice(req.query.get("purged"))
        html = page_template().render(
            base=BASE,
            routes=route_rows(self.app.table),
            entries=rows[:MAX_SHOWN],
            total=len(rows),
            tags=sorted(tags.items()),
            store=cache.store.url,
            requests=list(self.log.records),
            now=time.time(),
            token=csrf.token_for(req, res, self.secret),
            notice=notice,
        )
        res.set(_PAGE_HEADERS).html(html)

    async def purge_form(self, req: Request, res: Response) -> None:
        await csrf.check_request(req, self.secret)
        form = await req.form()
        tag, everything = form.get("tag"), form.get("all")
        if isinstance(tag, str) and tag:
            await purge(self.app.cache, tag=tag)
            done = "tag " + tag
        elif everything:
            await purge(self.app.cache, everything=True)
            done = "everything"
        else:
            raise HTTPError(400, "Say what to purge: a tag, or all=1")
        res.redirect(BASE + "?purged=" + quote(done, safe=""), 303)

    # --- what the CLI reaches --------------------------------------------------------------

    def check_token(self, req: Request) -> None:
        if self.token is None:
            raise HTTPError(
                403,
                f"{BASE}/api needs the token nexpress dev writes to .nexpress/dev.json;"
                " this server was not started by nexpress dev",
            )
        given = req.get(TOKEN_HEADER) or ""
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.token.encode()):
            raise HTTPError(403, f"Missing or wrong {TOKEN_HEADER}: read it from .nexpress/dev.json")

    async def api_cache(self, req: Request) -> dict[str, Any]:
        self.check_token(req)
        query = req.query
        rows = await cache_rows(self.app.cache, key=query.get("key"), tag=query.get("tag"), path=query.get("path"))
        return {"store": self.app.cache.store.url, "entries": rows}

    async def api_purge(self, req: Request) -> dict[str, Any]:
        self.check_token(req)
        try:
            order = await req.json()
        except (ValueError, HTTPError):
            raise HTTPError(400, 'Send JSON: {"tag": T} or {"path": P, "tree": false} or {"all": true}') from None
        if not isinstance(order, dict):
            raise HTTPError(400, 'Send a JSON object: {"tag": T} or {"path": P, "tree": false} or {"all": true}')
        tag, path = order.get("tag"), order.get("path")
        if (tag is not None and not isinstance(tag, str)) or (path is not None and not isinstance(path, str)):
            raise HTTPError(400, "tag and path must be strings")
        return await purge(self.app.cache, tag=tag, path=path, tree=bool(order.get("tree")), everything=order.get("all") is True)


def _notice(purged: str | None) -> str | None:
    return f"Purged {purged}." if purged else None
