"""Routers: where routes, middleware and error handlers are declared.

A :class:`Router` only records declarations, in order. ``App`` compiles the
whole tree of routers once, at start-up, into one route table
(:mod:`nexpress.routing.table`), so declaring routes costs nothing per request.
A declaration made later, on any router of the tree, tells the routers it is
mounted on, so the app recompiles before the next request."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self, TypeVar, overload

from ..http.calls import is_async_callable
from ..middleware.chain import Middleware, MiddlewareFunction
from ..middleware.static import StaticFiles
from ..typed.plan import TypedPlan, handler_arity, plan_for, positional_arity
from .endpoint import Endpoint
from .pattern import parse_pattern
from .plugin import Plugin
from .sites import declaration_site

H = TypeVar("H", bound=Callable[..., Any])
"""A handler (``(req)``, ``(req, res)``, typed ``body``/``query``...): decorators
return it unchanged, so it keeps its own signature."""
S = TypeVar("S", bound=Callable[[], Any])

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
WS = "WS"  # the route table's "method" for WebSocket routes (kind "ws")
_OPTION_NAMES = {
    "body_limit",
    "file_limit",
    # typed handlers and the OpenAPI document (nexpress.typed.plan, nexpress.openapi)
    "status",
    "tags",
    "summary",
    "description",
    "responses",
    "deprecated",
    "include_in_schema",
    "operation_id",
    "security",
}
_WS_OPTION_NAMES = {"max_size"}


@dataclass(slots=True)
class RouteDef:
    """One declared route (before compilation)."""

    method: str  # "GET" ... or "*" for app.all()
    pattern: str
    handlers: tuple[Callable, ...]
    options: dict[str, Any]
    site: str  # where it was declared: "server.py:12"
    kind: str = "handler"  # a routing.table.RouteKind value
    source: str | None = None  # set for file routes ("app/blog/[slug]/page.py")
    info: dict[str, Any] = field(default_factory=dict)  # shown by `nexpress routes URL` (layouts...)
    plan: TypedPlan | None = None  # typed body/query/status (nexpress.typed.plan), else None


class UseDef:
    """``use(prefix, target)``: middleware, a Router, or an ASGI app. ``kind``:
    "middleware", "router", "asgi", "static", "plugin" (routes generated at compile).
    (A plain slotted class: a dataclass compiles its methods at import.)"""

    __slots__ = ("kind", "prefix", "site", "target")

    def __init__(self, prefix: str, target: Any, site: str, kind: str) -> None:
        self.prefix = prefix
        self.target = target
        self.site = site
        self.kind = kind


class ErrorDef:
    """``app.error(handler)``: an ``(err, req, res)`` handler and where it was declared."""

    __slots__ = ("handler", "site")

    def __init__(self, handler: Callable, site: str) -> None:
        self.handler = handler
        self.site = site


def is_asgi_app(target: Any) -> bool:
    """Tell a mounted ASGI app from ``(req, res, next)`` middleware, visibly:
    an object with ``__call__`` that is not a plain function, or a function whose
    first parameter is named ``scope``. ``Router.mount`` is the explicit form."""
    if inspect.isfunction(target) or inspect.ismethod(target):
        try:
            first = next(iter(inspect.signature(target).parameters))
        except (StopIteration, ValueError, TypeError):
            return False
        return first == "scope"
    if isinstance(target, (Middleware, Endpoint)):
        return False
    return callable(target) and positional_arity(target) == 3 and not inspect.isclass(target)


class RouteBuilder:
    """``app.route("/items").get(list_items).post(create_item)``."""

    def __init__(self, router: Router, pattern: str) -> None:
        self._router = router
        self._pattern = pattern

    def _add(self, method: str, handlers: tuple[Callable[..., Any], ...], options: dict[str, Any]) -> RouteBuilder:
        self._router._add(method, self._pattern, handlers, options, declaration_site())
        return self

    def get(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("GET", handlers, options)

    def post(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("POST", handlers, options)

    def put(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("PUT", handlers, options)

    def patch(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("PATCH", handlers, options)

    def delete(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("DELETE", handlers, options)

    def head(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("HEAD", handlers, options)

    def options(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("OPTIONS", handlers, options)

    def all(self, *handlers: Callable[..., Any], **options: Any) -> RouteBuilder:
        return self._add("*", handlers, options)


class Router:
    """A group of routes, middleware and error handlers, mountable under a prefix
    with ``app.use("/api", router)``.

    ``body_limit`` / ``file_limit`` (bytes) apply to every route declared on this
    router unless the route sets its own.
    """

    def __init__(self, *, body_limit: int | None = None, file_limit: int | None = None) -> None:
        self._entries: list[RouteDef | UseDef] = []
        self._errors: list[ErrorDef] = []
        self._startup: list[Callable[[], Any]] = []
        self._shutdown: list[Callable[[], Any]] = []
        self._listeners: list[Callable[[], None]] = []  # routers this one is mounted on
        self.body_limit = body_limit
        self.file_limit = file_limit

    # --- what the compiler reads ------------------------------------------------

    @property
    def entries(self) -> tuple[RouteDef | UseDef, ...]:
        """Routes and ``use()`` mounts, in declaration order."""
        return tuple(self._entries)

    @property
    def error_handlers(self) -> tuple[ErrorDef, ...]:
        return tuple(self._errors)

    @property
    def startup_handlers(self) -> tuple[Callable[[], Any], ...]:
        return tuple(self._startup)

    @property
    def shutdown_handlers(self) -> tuple[Callable[[], Any], ...]:
        return tuple(self._shutdown)

    def _changed(self) -> None:
        """A declaration was added: tell the routers this one is mounted on."""
        for listener in self._listeners:
            listener()

    # --- lifespan -------------------------------------------------------------------

    def on_startup(self, fn: S) -> S:
        """Run ``fn`` (sync or async) when the server starts (routers' handlers run
        after the app's own, in mount order)."""
        self._startup.append(fn)
        self._changed()
        return fn

    def on_shutdown(self, fn: S) -> S:
        """Run ``fn`` (sync or async) when the server stops."""
        self._shutdown.append(fn)
        self._changed()
        return fn

    # --- declaring routes ------------------------------------------------------

    def _add(
        self,
        method: str,
        pattern: str,
        handlers: tuple[Callable, ...],
        options: dict[str, Any],
        site: str,
        *,
        kind: str = "handler",
        source: str | None = None,
    ) -> None:
        known = _WS_OPTION_NAMES if method == WS else _OPTION_NAMES
        unknown = set(options) - known
        if unknown:
            raise TypeError(
                f"unknown route option(s) {sorted(unknown)} at {site}; known: {sorted(known)}"
            )
        parse_pattern(pattern)  # a bad pattern fails here, where it was written
        if not handlers:
            raise TypeError(f"route {method} {pattern} at {site} has no handler")
        for handler in handlers:
            if not callable(handler):
                raise TypeError(f"route {method} {pattern} at {site}: {handler!r} is not callable")
        for middleware in handlers[:-1]:
            _check_middleware(middleware, site)
        endpoint = handlers[-1]
        if method == WS:
            kind = "ws"
            _check_ws_handler(endpoint, positional_arity(endpoint), site)
            plan = None
        else:
            plan = self._typed_plan(endpoint, options, site)
        self._entries.append(RouteDef(method, pattern, handlers, options, site, kind, source, plan=plan))
        self._changed()

    @staticmethod
    def _typed_plan(endpoint: Callable, options: dict[str, Any], site: str) -> TypedPlan | None:
        """Check a handler's shape; its typed body/query plan, if it has one."""
        arity = handler_arity(endpoint)  # typed body/query parameters are not counted
        if arity not in (1, 2):
            raise TypeError(
                f"handler {getattr(endpoint, '__qualname__', endpoint)!r} at {site} must take"
                f" (req) or (req, res), not {arity} arguments; middleware goes before it:"
                " app.get(path, middleware, handler)"
            )
        return plan_for(endpoint, options.get("status"))

    def add_route(self, definition: RouteDef) -> None:
        """Add a route a feature generated (file routes, auth endpoints); its handler
        may be an :class:`Endpoint`. The pattern is checked here, like any other."""
        parse_pattern(definition.pattern)
        self._entries.append(definition)
        self._changed()

    def add_generated(self, prefix: str, plugin: Plugin) -> None:
        """Call ``plugin.routes()`` whenever the app compiles and mount what it returns
        under ``prefix`` (``Plugin.install``'s default: file routes, ``public/``...)."""
        site = declaration_site()
        _check_prefix(prefix, site)
        self._entries.append(UseDef(prefix, plugin, site, "plugin"))
        self._changed()

    def _verb(self, method: str, pattern: str, handlers: tuple[Callable[..., Any], ...], options: dict[str, Any]) -> Any:
        site = declaration_site()
        # ``app.get(path, handler)`` registers now; ``@app.get(path)`` and
        # ``@app.get(path, middleware)`` decorate the handler below.
        if handlers and handler_arity(handlers[-1]) != 3:
            self._add(method, pattern, handlers, options, site)
            return self

        def decorator(fn: H) -> H:
            self._add(method, pattern, (*handlers, fn), options, declaration_site())
            return fn

        return decorator

    @overload
    def get(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def get(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def get(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        """``@app.get(path)`` or ``app.get(path, *middleware, handler)``."""
        return self._verb("GET", path, handlers, options)

    @overload
    def post(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def post(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def post(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        return self._verb("POST", path, handlers, options)

    @overload
    def put(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def put(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def put(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        return self._verb("PUT", path, handlers, options)

    @overload
    def patch(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def patch(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def patch(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        return self._verb("PATCH", path, handlers, options)

    @overload
    def delete(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def delete(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def delete(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        return self._verb("DELETE", path, handlers, options)

    @overload
    def head(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def head(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def head(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        return self._verb("HEAD", path, handlers, options)

    @overload
    def options(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def options(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def options(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        return self._verb("OPTIONS", path, handlers, options)

    @overload
    def all(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def all(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def all(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        """A route answering every method."""
        return self._verb("*", path, handlers, options)

    @overload
    def ws(self, path: str, *middleware: MiddlewareFunction, **options: Any) -> Callable[[H], H]: ...
    @overload
    def ws(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Self: ...
    def ws(self, path: str, *handlers: Callable[..., Any], **options: Any) -> Any:
        """A WebSocket route: ``@app.ws(path)`` or ``app.ws(path, *middleware, handler)``;
        the handler takes ``(ws)``. Option: ``max_size`` (bytes per message)."""
        return self._verb(WS, path, handlers, options)

    def route(self, path: str) -> RouteBuilder:
        return RouteBuilder(self, path)

    # --- middleware, sub-routers, sub-apps -------------------------------------

    def use(self, *args: Any) -> Self:
        """``use(mw)``, ``use("/prefix", mw_or_router_or_asgi_app, ...)``."""
        site = declaration_site()
        prefix = "/"
        items = list(args)
        if items and isinstance(items[0], str):
            prefix = items.pop(0)
        if not items:
            raise TypeError(f"use() at {site} needs middleware, a Router or an ASGI app")
        _check_prefix(prefix, site)
        for target in items:
            if target is self:
                raise ValueError(f"use() at {site}: a router cannot be mounted on itself")
            if isinstance(target, Router) and not callable(target):
                self._entries.append(UseDef(prefix, target, site, "router"))
                target._listeners.append(self._changed)
            elif isinstance(target, Router):  # an App mounted inside another: keep it separate
                self._entries.append(UseDef(prefix, target, site, "asgi"))
            elif isinstance(target, StaticFiles):
                self._entries.append(UseDef(prefix, target, site, "static"))
            elif isinstance(target, Plugin):
                target.install(self, prefix)
            elif is_asgi_app(target):
                self._entries.append(UseDef(prefix, target, site, "asgi"))
            else:
                _check_middleware(target, site)
                self._entries.append(UseDef(prefix, target, site, "middleware"))
        self._changed()
        return self

    def mount(self, prefix: str, asgi_app: Callable[..., Any]) -> Self:
        """Mount any ASGI app under ``prefix`` (it sees the prefix as ``root_path``)."""
        site = declaration_site()
        _check_prefix(prefix, site)
        self._entries.append(UseDef(prefix, asgi_app, site, "asgi"))
        self._changed()
        return self

    def error(self, handler: H) -> H:
        """Register ``(err, req, res)`` error handler; innermost routers' run first."""
        if positional_arity(handler) != 3:
            raise TypeError(
                f"error handler {getattr(handler, '__qualname__', handler)!r} must take (err, req, res)"
            )
        self._errors.append(ErrorDef(handler, declaration_site()))
        self._changed()
        return handler


def _check_middleware(fn: Any, site: str) -> None:
    if isinstance(fn, Middleware):
        return
    arity = positional_arity(fn)
    if arity == 4:
        raise TypeError(
            f"middleware {getattr(fn, '__qualname__', fn)!r} at {site} takes 4 arguments: Express's"
            " error-handling middleware (err, req, res, next) is written here as an error handler,"
            " @app.error async def handler(err, req, res)"
        )
    if arity != 3:
        raise TypeError(
            f"middleware {getattr(fn, '__qualname__', fn)!r} at {site} must take (req, res, next),"
            f" not {arity} arguments"
        )
    if not is_async_callable(fn):
        raise TypeError(
            f"middleware {getattr(fn, '__qualname__', fn)!r} at {site} must be 'async def'"
            " so that it can 'await next()'"
        )


def _check_ws_handler(fn: Callable, arity: int, site: str) -> None:
    name = getattr(fn, "__qualname__", fn)
    if arity != 1:
        raise TypeError(f"WebSocket handler {name!r} at {site} must take (ws), not {arity} arguments")
    if not is_async_callable(fn):
        raise TypeError(f"WebSocket handler {name!r} at {site} must be 'async def'")


def _check_prefix(prefix: str, site: str) -> None:
    if not isinstance(prefix, str):
        raise TypeError(f"use() prefix at {site} must be a str")
    if prefix in ("", "/"):
        return
    variants = parse_pattern(prefix)
    if len(variants) != 1 or any(seg.kind == 3 for seg in variants[0]):
        raise ValueError(
            f"mount prefix {prefix!r} at {site} cannot contain '*' wildcards or optional"
            " '{...}' parts; use ':param' segments or mount several times"
        )
