"""The compiled route table: one for the whole app, built once at start-up.

- Fully static paths are answered by one dict lookup on the raw request path.
- Everything else walks a segment tree where, at every level, a static segment
  beats a mixed ``:a-:b`` segment, which beats ``:param``, which beats ``*splat``,
  whatever the registration order. Lookups cost O(path depth), not O(routes).
- Two routes with the same method and shape are a start-up error naming both.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any
from urllib.parse import quote

from ..http.calls import is_async_callable
from ..http.errors import BadRequest
from ..http.paths import percent_decode
from ..middleware.chain import Middleware
from ..typed.plan import handler_arity
from .endpoint import Endpoint
from .pattern import (
    COMPLEX,
    PARAM,
    SPLAT,
    STATIC,
    TAIL,
    Segment,
    join_patterns,
    parse_pattern,
    static_key,
    variant_path,
)
from .router import WS, ErrorDef, RouteDef, Router, UseDef
from .sites import handler_source, make_site_relative, relative_to

ALWAYS, MAYBE, NEVER = 0, 1, 2


class RouteKind(StrEnum):
    """What answers a route (``nexpress routes`` shows :attr:`Route.display`)."""

    HANDLER = "handler"  # app.get(...) and plugins' endpoints
    API = "api"  # an app/ route.py
    STATIC = "static"  # an app/ page rendered once
    ISR = "isr"  # an app/ page re-rendered every ``revalidate`` seconds
    DYNAMIC = "dynamic"  # an app/ page rendered per request
    ACTION = "action"  # the POST of a page's server actions
    STATIC_FILE = "static-file"  # public/ files, fingerprinted assets, the client script
    WS = "ws"  # a WebSocket route
    ASGI = "asgi"  # a mounted ASGI app
    DEV = "dev"  # /_nexpress (debug only)


PAGE_KINDS = frozenset((RouteKind.STATIC, RouteKind.ISR, RouteKind.DYNAMIC, RouteKind.ACTION))
"""The kinds that answer errors with HTML pages by default."""


def route_kind(kind: str, site: str) -> RouteKind:
    """The kind a declaration names, or a TypeError naming where it was declared."""
    try:
        return RouteKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in RouteKind)
        raise TypeError(f"route kind {kind!r} at {site} is not one of: {known}") from None


class RouteConflictError(ValueError):
    """Two routes with the same method and shape; the message names both sources."""


@dataclass(slots=True, eq=False)
class Step:
    """One middleware in a route's chain, with the mount depth it runs at and, when
    it cannot be decided at start-up, a runtime check of its prefix."""

    fn: Callable
    depth: int
    condition: re.Pattern[str] | None
    site: str
    everywhere: bool = False  # app.use(mw) without a prefix: it sees every request


async def _unbound(scope: dict, receive: Callable, send: Callable, raw_path: str, params: dict) -> None:
    raise RuntimeError("this route is not bound to an app: use the table App.compile() returns")


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """A compiled route: immutable plain data plus the ``invoke`` coroutine the app
    binds (:meth:`RouteTable.bind` makes a bound copy of each route; nothing is
    assigned after construction)."""

    method: str
    path: str
    segments: tuple[Segment, ...]
    kind: RouteKind
    source: str
    site: str
    handler: Callable
    middleware: tuple[Step, ...]
    errors: tuple[Callable, ...]
    param_names: tuple[str, ...]
    splats: tuple[bool, ...]
    base_depth: int
    body_limit: int
    file_limit: int
    options: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    arity: int = 2
    is_async: bool = True
    mount: Any = None
    invoke: Callable[..., Awaitable[None]] = _unbound  # set by RouteTable.bind, on a copy
    route_header: bytes | None = None  # the x-nexpress-route value (compile_routes(route_header=True))
    pattern: str = ""
    plan: Any = None  # nexpress.typed.plan.TypedPlan for typed handlers, else None
    has_splat: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "has_splat", True in self.splats)  # derived once, at construction

    @property
    def shape(self) -> tuple:
        return tuple(s.shape for s in self.segments)

    @property
    def revalidate(self) -> int | None:
        """Seconds before the cached response goes stale, for cached endpoints."""
        handler = self.handler
        return handler.revalidate if isinstance(handler, Endpoint) else None

    @property
    def display(self) -> str:
        """The kind as ``nexpress routes`` shows it: ``isr 60s`` for ISR pages."""
        kind = self.kind
        return f"isr {self.revalidate}s" if kind is RouteKind.ISR else kind.value


class Node:
    """One level of the segment tree: children by kind, in the order they are tried."""

    __slots__ = ("complex", "max_depth", "param", "routes", "splat", "static", "tails")

    def __init__(self) -> None:
        self.static: dict[str, Node] = {}
        self.complex: list[tuple[Segment, Node]] = []
        self.param: Node | None = None
        self.tails: list[tuple[Segment, Node]] = []  # wildcards sharing a segment with text
        self.splat: Node | None = None
        self.routes: dict[str, Route] = {}
        self.max_depth = 0


_INF = 1 << 30


def _finish(node: Node) -> int:
    """Sort complex segments and compute how deep each subtree can match."""
    node.complex.sort(key=lambda item: -len(item[0].label))
    node.tails.sort(key=lambda item: -len(item[0].label))
    depth = 0
    for child in node.static.values():
        depth = max(depth, 1 + _finish(child))
    for _, child in node.complex:
        depth = max(depth, 1 + _finish(child))
    if node.param is not None:
        depth = max(depth, 1 + _finish(node.param))
    for _, child in node.tails:
        _finish(child)
        depth = _INF
    if node.splat is not None:
        _finish(node.splat)
        depth = _INF
    node.max_depth = depth
    return depth


def _remap(routes: dict[str, Route], copies: dict[int, Route]) -> dict[str, Route]:
    return {method: copies[id(route)] for method, route in routes.items()}


def _rebind(node: Node, copies: dict[int, Route]) -> Node:
    """A copy of the (finished) tree below ``node`` whose routes are their bound copies."""
    new = Node()
    new.static = {text: _rebind(child, copies) for text, child in node.static.items()}
    new.complex = [(segment, _rebind(child, copies)) for segment, child in node.complex]
    new.param = _rebind(node.param, copies) if node.param is not None else None
    new.tails = [(segment, _rebind(child, copies)) for segment, child in node.tails]
    new.splat = _rebind(node.splat, copies) if node.splat is not None else None
    new.routes = _remap(node.routes, copies)
    new.max_depth = node.max_depth
    return new


def _leaf(node: Node, method: str) -> Route | None:
    routes = node.routes
    if routes:
        return routes.get(method) or routes.get("*")
    return None


def _splat_end(segs: list[str], i: int, n: int) -> int:
    """Where a splat starting at ``i`` must stop: it takes non-empty segments only."""
    end = i
    while end < n and segs[end]:
        end += 1
    return end


def _segment_values(segment: Segment, raw: str, encoded: bool) -> list[str] | None:
    """A mixed segment's captures on the raw segment, decoded; None when it does not
    match, or when a capture splits a percent-escape ("%C3" | "%A9"): no match then,
    the next branch is tried (a request never fails on a split the regex chose)."""
    m = segment.regex.match(raw)  # type: ignore[union-attr]
    if m is None:
        return None
    if not encoded:
        return list(m.groups())
    try:
        return [percent_decode(v) for v in m.groups()]
    except BadRequest:
        return None


def _tail_values(segment: Segment, rest: str, encoded: bool) -> list[Any] | None:
    """A tail's captures on the rest of the raw path: its wildcard as a list of decoded
    segments, params decoded. None when it does not match, when a capture splits a
    percent-escape, or when the wildcard would take an empty segment ("a/", "a//b"):
    a wildcard takes non-empty segments, as a plain ``*splat`` does ("/x/a/"
    redirects to "/x/a")."""
    m = segment.regex.match(rest)  # type: ignore[union-attr]
    if m is None:
        return None
    wildcard = m.group(segment.wildcard_group)
    if wildcard.startswith("/") or wildcard.endswith("/") or "//" in wildcard:
        return None
    values: list[Any] = []
    try:
        for index, value in enumerate(m.groups(), 1):
            if index == segment.wildcard_group:
                parts = value.split("/")
                values.append([percent_decode(v) for v in parts] if encoded else parts)
            else:
                values.append(percent_decode(value) if encoded else value)
    except BadRequest:
        return None
    return values


def _walk(node: Node, segs: list[str], raw: list[str], i: int, n: int, method: str, vals: list) -> Route | None:
    """Match ``segs[i:]`` (at least one segment) below ``node``; ``vals`` collects
    captured values in order. ``raw`` holds the same segments still percent-encoded
    (the very list ``segs`` when nothing was encoded): segments mixing text and
    params match on raw text and decode their captures, as path-to-regexp does."""
    if n - i > node.max_depth:
        return None
    seg = segs[i]
    last = i + 1 == n
    child = node.static.get(seg)
    if child is not None:
        found = _leaf(child, method) if last else _walk(child, segs, raw, i + 1, n, method, vals)
        if found is not None:
            return found
    for segment, child in node.complex:
        groups = _segment_values(segment, raw[i], raw is not segs)
        if groups is not None:
            vals.extend(groups)
            found = _leaf(child, method) if last else _walk(child, segs, raw, i + 1, n, method, vals)
            if found is not None:
                return found
            del vals[len(vals) - len(groups) :]
    child = node.param
    if child is not None and seg:
        vals.append(seg)
        found = _leaf(child, method) if last else _walk(child, segs, raw, i + 1, n, method, vals)
        if found is not None:
            return found
        vals.pop()
    if node.tails:
        rest = "/".join(raw[i:])
        for segment, child in node.tails:
            found = _leaf(child, method)
            if found is not None:
                values = _tail_values(segment, rest, raw is not segs)
                if values is not None:
                    vals.extend(values)
                    return found
    child = node.splat
    if child is not None:
        # Greedy, but a route that continues after the splat ("/*path/edit") beats the
        # splat taking everything: try the longest splat that leaves a matching tail,
        # then the splat consuming the whole rest.
        # A splat takes one or more non-empty segments ("/files/a/" is not
        # ["a", ""]: it redirects to "/files/a"). Patterns have at most one
        # splat, so the subtree below it is of bounded depth: linear matching.
        end = _splat_end(segs, i, n)
        if end == i:
            return None
        lowest = max(i + 1, n - child.max_depth)
        for j in range(min(n - 1, end), lowest - 1, -1):
            vals.append((i, j))
            found = _walk(child, segs, raw, j, n, method, vals)
            if found is not None:
                return found
            vals.pop()
        if end == n:
            found = _leaf(child, method)
            if found is not None:
                vals.append((i, n))
                return found
    return None


def _collect_methods(node: Node, segs: list[str], raw: list[str], i: int, out: set[str]) -> None:
    if i == len(segs):
        out.update(node.routes)
        return
    if len(segs) - i > node.max_depth:
        return
    seg = segs[i]
    child = node.static.get(seg)
    if child is not None:
        _collect_methods(child, segs, raw, i + 1, out)
    for segment, child in node.complex:
        if _segment_values(segment, raw[i], raw is not segs) is not None:
            _collect_methods(child, segs, raw, i + 1, out)
    if node.param is not None and seg:
        _collect_methods(node.param, segs, raw, i + 1, out)
    if node.tails:
        rest = "/".join(raw[i:])
        for segment, child in node.tails:
            if _tail_values(segment, rest, raw is not segs) is not None:
                out.update(child.routes)
    child = node.splat
    if child is not None and seg:
        n = len(segs)
        end = _splat_end(segs, i, n)
        for j in range(end, max(i + 1, n - child.max_depth) - 1, -1):
            _collect_methods(child, segs, raw, j, out)


class RouteTable:
    """The compiled, immutable route table of an app."""

    def __init__(self) -> None:
        self.static: dict[str, dict[str, Route]] = {}
        self.root = Node()
        self.routes: list[Route] = []
        self.fallback: tuple[Step, ...] = ()  # middleware for requests no route matched
        self.listing_extra: list[dict[str, Any]] = []
        self.startup: tuple[Callable, ...] = ()  # lifespan handlers of every router
        self.shutdown: tuple[Callable, ...] = ()
        self._shapes: dict[tuple, Route] = {}

    # --- building -------------------------------------------------------------

    def add(self, route: Route) -> None:
        key = (route.method, route.shape)
        other = self._shapes.get(key)
        if other is not None:
            raise RouteConflictError(_conflict_message(other, route))
        self._shapes[key] = route
        self.routes.append(route)
        node = self.root
        for segment in route.segments:
            if segment.kind == STATIC:
                node = node.static.setdefault(segment.text, Node())
            elif segment.kind in (COMPLEX, TAIL):
                siblings = node.complex if segment.kind == COMPLEX else node.tails
                for existing, child in siblings:
                    if existing.shape == segment.shape:
                        node = child
                        break
                else:
                    child = Node()
                    siblings.append((segment, child))
                    node = child
            elif segment.kind == PARAM:
                if node.param is None:
                    node.param = Node()
                node = node.param
            else:
                if node.splat is None:
                    node.splat = Node()
                node = node.splat
        node.routes[route.method] = route
        if route.method == "GET":
            node.routes.setdefault("HEAD", route)
        if route.method == "HEAD":
            node.routes["HEAD"] = route
        key_path = static_key(route.segments)
        if key_path is not None:
            self._add_static(key_path, route)
            alias = route.info.get("also_at")  # a folder's index.html also answers "/docs/"
            if alias:
                self._add_static(alias, route)

    def _add_static(self, path: str, route: Route) -> None:
        methods = self.static.setdefault(path, {})
        methods[route.method] = route
        if route.method == "GET":
            methods.setdefault("HEAD", route)
        if route.method == "HEAD":
            methods["HEAD"] = route

    def finish(self) -> None:
        _finish(self.root)

    def bind(self, invoker: Callable[[Route], Callable[..., Awaitable[None]]]) -> RouteTable:
        """A new table whose routes are copies of these with ``invoke`` set to
        ``invoker(route)`` (what the app does when it compiles or its request context
        changes): routes stay immutable, the dispatcher reads ``route.invoke`` as before."""
        copies = {id(route): replace(route, invoke=invoker(route)) for route in self.routes}
        bound = RouteTable()
        bound.routes = [copies[id(route)] for route in self.routes]
        # the same tree and static map with the copies in place: no pattern is walked
        # again, so binding costs a copy per route (a cold start binds 2,000 routes)
        bound.root = _rebind(self.root, copies)
        bound.static = {path: _remap(methods, copies) for path, methods in self.static.items()}
        bound._shapes = {key: copies[id(route)] for key, route in self._shapes.items()}
        bound.fallback = self.fallback
        bound.listing_extra = self.listing_extra
        bound.startup = self.startup
        bound.shutdown = self.shutdown
        return bound

    # --- matching -------------------------------------------------------------

    def match(self, method: str, segs: list[str], raw: list[str] | None = None) -> tuple[Route, dict[str, Any]] | None:
        """The route for decoded path segments, with its params, or None. ``raw``: the
        same segments still percent-encoded, when any was (see :func:`_walk`)."""
        if not segs:
            route = _leaf(self.root, method)
            return None if route is None else (route, {})
        vals: list = []
        route = _walk(self.root, segs, segs if raw is None else raw, 0, len(segs), method, vals)
        if route is None:
            return None
        if not route.has_splat:
            return route, dict(zip(route.param_names, vals, strict=True))
        params: dict[str, Any] = {}
        for name, is_splat, value in zip(route.param_names, route.splats, vals, strict=True):
            params[name] = segs[value[0] : value[1]] if is_splat else value
        return route, params

    def allowed(self, segs: list[str], raw: list[str] | None = None) -> set[str]:
        """Methods some route answers for this path (for 405 and OPTIONS)."""
        out: set[str] = set()
        _collect_methods(self.root, segs, segs if raw is None else raw, 0, out)
        out.discard(WS)  # WebSocket routes answer upgrades, not HTTP methods
        return out

    # --- listing -------------------------------------------------------------

    def describe(self) -> list[dict[str, Any]]:
        """Rows for ``nexpress routes``: methods, path, kind, source, revalidate."""
        grouped: dict[tuple[str, str, str], dict[str, Any]] = {}
        for route in self.routes:
            key = (route.path, route.display, route.source)
            row = grouped.setdefault(
                key,
                {
                    "methods": [],
                    "path": route.path,
                    "kind": route.display,
                    "source": route.source,
                    "revalidate": route.revalidate,
                },
            )
            method = "ALL" if route.method == "*" else route.method
            if method not in row["methods"]:
                row["methods"].append(method)
            if method == "GET" and "HEAD" not in row["methods"]:
                row["methods"].append("HEAD")
        rows = [*grouped.values(), *({**row, "methods": list(row["methods"])} for row in self.listing_extra)]
        order = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "ALL"))}
        for row in rows:
            row["methods"].sort(key=lambda m: order.get(m, 99))
        rows.sort(key=lambda r: (_sort_key(r["path"]), r["methods"]))
        return rows


def _sort_key(path: str) -> tuple:
    return tuple((1 if part.startswith((":", "*")) else 0, part) for part in path.split("/"))


def _conflict_message(first: Route, second: Route) -> str:
    method = "ALL" if first.method == "*" else first.method
    return (
        f"Route conflict: {method} {second.path} ({second.source}, declared at {second.site})"
        f" has the same shape as {method} {first.path} ({first.source}, declared at {first.site})."
        " Only one of them could ever answer: remove one, or change its path."
    )


# --- compiling a router tree -------------------------------------------------


def _relation(prefix: tuple[Segment, ...], segments: tuple[Segment, ...]) -> int:
    """Does middleware under ``prefix`` apply to every request of a route? ALWAYS,
    NEVER, or MAYBE (decided per request by a regex on the path)."""
    result = ALWAYS
    for index, pre in enumerate(prefix):
        if index >= len(segments):
            return NEVER
        seg = segments[index]
        if seg.kind in (SPLAT, TAIL):
            return MAYBE
        if pre.kind == STATIC:
            if seg.kind == STATIC:
                if seg.text != pre.text:
                    return NEVER
            else:
                result = MAYBE
        elif pre.kind == PARAM:
            continue
        else:
            result = MAYBE
    return result


def prefix_regex(prefix: tuple[Segment, ...]) -> re.Pattern[str]:
    """A regex for raw request paths at or below ``prefix``."""
    parts = []
    for seg in prefix:
        if seg.kind == STATIC:
            parts.append(re.escape(quote(seg.text, safe="!$&'()*+,;=:@-._~")))
        elif seg.kind == PARAM:
            parts.append("[^/]+")
        else:
            parts.append("[^/]+")
    return re.compile("^/" + "/".join(parts) + "(?:/|$)") if parts else re.compile("")


# The records below live only while compile_routes runs: plain slotted classes, not
# dataclasses, because a dataclass definition compiles its generated methods when the
# module is imported (~2.3M instructions each, paid by every `from nexpress import App`).


class _Middleware:
    __slots__ = ("fn", "regex", "segments", "site")

    def __init__(self, segments: tuple[Segment, ...], fn: Callable, site: str, regex: re.Pattern[str]) -> None:
        self.segments = segments
        self.fn = fn
        self.site = site
        self.regex = regex


class _Pending:
    """A route definition met while walking the router tree, with what it inherits:
    the full pattern (prefix + route pattern), the mount prefix's depth in segments,
    the error handlers and the body/file limits."""

    __slots__ = ("body_limit", "definition", "depth", "errors", "file_limit", "pattern")

    def __init__(self, definition: RouteDef, pattern: str, depth: int, errors: tuple[Callable, ...], body_limit: int, file_limit: int) -> None:
        self.definition = definition
        self.pattern = pattern
        self.depth = depth
        self.errors = errors
        self.body_limit = body_limit
        self.file_limit = file_limit


class _Generated:
    """A plugin whose routes are generated at compile time, with where it was installed."""

    __slots__ = ("depth", "errors", "limits", "plugin", "prefix")

    def __init__(self, plugin: Any, prefix: str, depth: int, errors: tuple[Callable, ...], limits: tuple[int, int]) -> None:
        self.plugin = plugin  # a routing.plugin.Plugin
        self.prefix = prefix
        self.depth = depth
        self.errors = errors
        self.limits = limits


class _Collected:
    """What a walk of the router tree found, in declaration order."""

    __slots__ = ("generated", "listing", "middleware", "mounts", "routes", "shutdown", "startup")

    def __init__(self) -> None:
        self.routes: list[_Pending] = []
        self.middleware: list[_Middleware] = []
        self.mounts: list[tuple[UseDef, str, tuple[Segment, ...], str]] = []
        self.listing: list[dict[str, Any]] = []
        self.startup: list[Callable] = []
        self.shutdown: list[Callable] = []
        self.generated: list[_Generated] = []


def compile_routes(
    router: Router,
    *,
    root: str,
    body_limit: int,
    file_limit: int,
    route_header: bool = False,
) -> RouteTable:
    """Flatten a router tree (the app), with the routes its plugins generate now (file
    routes, public files...), into one :class:`RouteTable` (its routes unbound: the app
    binds invokers with :meth:`RouteTable.bind`). ``route_header``: each route carries
    its ``x-nexpress-route`` value (its source)."""
    found = _Collected()
    _walk_router(router, "", 0, (), (body_limit, file_limit), root, found)
    for gen in found.generated:  # after the declared routes, in install order
        for definition in gen.plugin.routes():
            pattern = join_patterns(gen.prefix, definition.pattern)
            found.routes.append(_Pending(definition, pattern, gen.depth, gen.errors, *gen.limits))
    table = RouteTable()
    for pending in found.routes:
        for route in _routes_for(pending, found.middleware, root, route_header):
            table.add(route)
    for entry, full, segments, site in found.mounts:
        _add_mount(table, entry, full, segments, site, body_limit, file_limit, route_header)
    table.fallback = tuple(
        Step(mw.fn, len(mw.segments), mw.regex if mw.segments else None, mw.site) for mw in found.middleware
    )
    table.listing_extra = found.listing
    table.startup = tuple(found.startup)
    table.shutdown = tuple(found.shutdown)
    table.finish()
    return table


def _walk_router(
    router: Router,
    prefix: str,
    depth: int,
    errors: tuple[Callable, ...],
    limits: tuple[int, int],
    root: str,
    found: _Collected,
) -> None:
    """Collect the routes, middleware and mounts of ``router`` and the routers below it."""
    errors = tuple(e.handler for e in router.error_handlers) + errors
    limits = (
        router.body_limit if router.body_limit is not None else limits[0],
        router.file_limit if router.file_limit is not None else limits[1],
    )
    found.startup.extend(router.startup_handlers)
    found.shutdown.extend(router.shutdown_handlers)
    for entry in router.entries:
        if isinstance(entry, RouteDef):
            found.routes.append(_Pending(entry, join_patterns(prefix, entry.pattern), depth, errors, *limits))
            continue
        full = join_patterns(prefix, entry.prefix)
        segments = parse_pattern(full)[0]
        site = make_site_relative(entry.site, root)
        if entry.kind == "router":
            _walk_router(entry.target, full, len(segments), errors, limits, root, found)
        elif entry.kind in ("middleware", "static"):
            found.middleware.append(_Middleware(segments, entry.target, site, prefix_regex(segments)))
            if entry.kind == "static":
                found.listing.append(_static_listing(entry.target, segments, site, root))
        elif entry.kind == "asgi":
            found.mounts.append((entry, full, segments, site))
        elif entry.kind == "plugin":
            found.generated.append(_Generated(entry.target, "" if full == "/" else full, len(segments), errors, limits))


def _static_listing(target: Any, segments: tuple[Segment, ...], site: str, root: str) -> dict[str, Any]:
    return {
        "methods": ["GET", "HEAD"],
        "path": variant_path(segments).rstrip("/") + "/*path",
        "kind": "static-file",
        "source": f"{site} static({relative_to(target.directory, root)!r})",
        "revalidate": None,
        "response": "file",
    }


def _chain(segments: tuple[Segment, ...], middleware: list[_Middleware], own: tuple[Callable, ...], depth: int, site: str) -> tuple[Step, ...]:
    """The middleware steps of one route variant: every ``use()`` whose prefix can
    cover it (checked per request when that depends on the path), then its own."""
    steps = []
    for mw in middleware:
        relation = _relation(mw.segments, segments)
        if relation != NEVER:
            steps.append(Step(mw.fn, len(mw.segments), mw.regex if relation == MAYBE else None, mw.site, not mw.segments))
    for fn in own:
        source = fn.source if isinstance(fn, Middleware) and fn.source else site
        steps.append(Step(fn, depth, None, source))
    return tuple(steps)


def _routes_for(pending: _Pending, middleware: list[_Middleware], root: str, route_header: bool = False) -> list[Route]:
    """One Route per variant of the pattern (optional groups expand)."""
    definition = pending.definition
    endpoint = definition.handlers[-1]
    source = definition.source or handler_source(endpoint, root)
    site = make_site_relative(definition.site, root)
    options = dict(definition.options)
    body_limit = _limit(options.pop("body_limit", None), pending.body_limit)
    file_limit = _limit(options.pop("file_limit", None), pending.file_limit)
    routes = []
    for segments in parse_pattern(pending.pattern):
        routes.append(
            Route(
                method=definition.method,
                path=variant_path(segments),
                segments=segments,
                kind=route_kind(definition.kind, site),
                source=source,
                site=site,
                handler=endpoint,
                middleware=_chain(segments, middleware, definition.handlers[:-1], pending.depth, site),
                errors=pending.errors,
                param_names=tuple(n for s in segments for n in s.names),
                splats=tuple(s.kind == SPLAT for s in segments for _ in s.names),
                base_depth=pending.depth,
                body_limit=body_limit,
                file_limit=file_limit,
                options=options,
                info=dict(definition.info),
                arity=handler_arity(endpoint),
                is_async=is_async_callable(endpoint),
                pattern=pending.pattern,
                plan=definition.plan,
                route_header=source.encode("utf-8") if route_header else None,
            )
        )
    return routes


def _add_mount(
    table: RouteTable, entry: UseDef, full: str, segments: tuple[Segment, ...], site: str, body_limit: int, file_limit: int, route_header: bool = False
) -> None:
    """A mounted ASGI app answers its prefix and everything below it, any method."""
    name = getattr(entry.target, "__qualname__", None) or type(entry.target).__qualname__
    source = f"{site} {name}"
    for variant in (segments, (*segments, Segment(SPLAT, names=("__rest",)))):
        table.add(
            Route(
                method="*",
                path=variant_path(variant).replace("*__rest", "*rest"),
                segments=variant,
                kind=RouteKind.ASGI,
                source=source,
                site=site,
                handler=entry.target,
                middleware=(),
                errors=(),
                param_names=tuple(n for s in variant for n in s.names),
                splats=tuple(s.kind == SPLAT for s in variant for _ in s.names),
                base_depth=len(segments),
                body_limit=body_limit,
                file_limit=file_limit,
                mount=entry.target,
                pattern=full,
                route_header=source.encode("utf-8") if route_header else None,
            )
        )


def _limit(value: int | None, default: int) -> int:
    return default if value is None else value


__all__ = ["ErrorDef", "Route", "RouteConflictError", "RouteTable", "Step", "compile_routes"]
