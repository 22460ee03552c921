"""``App``: configuration, the router tree's root, lifespan, and the ASGI entry.

The ASGI entry is deliberately thin: one dict lookup answers static paths; the
segment tree answers the rest; everything else was decided at start-up.
"""

from __future__ import annotations

import inspect
import logging
import os
import traceback
from collections.abc import Callable
from typing import Any

from . import _http
from ._asgi import NoResponseError, adopt, build_invoker, prepare, write_response
from ._http import BadRequest, decode_raw_path, split_path
from .errors import HTTPError, failing_frame, html_page, problem
from .middleware import MiddlewareError, run_chain
from .request import ClientDisconnect, Request
from .response import HTML, Response
from .routing import RouteDef, Router
from .routing.table import RouteTable, compile_routes
from .static import safe_join

logger = logging.getLogger("nexpress")

MiB = 1024 * 1024
_PROBLEM = "application/problem+json"


def _env_flag(name: str) -> bool | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    return value.lower() in ("1", "true", "yes", "on")


class App(Router):
    """A nexpress application: an ASGI 3 callable.

    ``App(root=".", pages="app", public="public", cache=None, debug=None)``;
    keyword-only: ``secret`` (signed cookies), ``trust_proxy`` (False, True, a hop
    count or a list of proxy addresses/networks), ``route_header`` (send
    ``x-nexpress-route``; on in debug), ``body_limit`` (1 MiB), ``file_limit``
    (10 MiB), ``body_timeout`` (30 s without a body chunk -> 408), ``views``
    ("views", for ``res.render``), ``openapi`` (a dict: serve ``/openapi.json`` and
    ``/docs``, see nexpress.openapi).
    """

    def __init__(
        self,
        root: str | os.PathLike[str] = ".",
        pages: str | None = "app",
        public: str | None = "public",
        cache: str | None = None,
        debug: bool | None = None,
        *,
        secret: str | None = None,
        trust_proxy: bool | int | list[str] = False,
        route_header: bool | None = None,
        body_limit: int = MiB,
        file_limit: int = 10 * MiB,
        body_timeout: float = 30.0,
        views: str = "views",
        openapi: dict[str, Any] | None = None,
    ) -> None:
        self._table: RouteTable | None = None
        super().__init__(body_limit=body_limit, file_limit=file_limit)
        root = os.fspath(root)
        if os.path.isfile(root):  # App(root=__file__) is a common slip: use its folder
            root = os.path.dirname(root)
        self.root = os.path.abspath(root)
        self.pages = pages
        self.public = public
        self.cache_url = os.environ.get("NEXPRESS_CACHE_URL") or cache or "memory://"
        env_debug = _env_flag("NEXPRESS_DEBUG")
        self.debug = bool(debug if debug is not None else env_debug)
        self.route_header = self.debug if route_header is None else route_header
        self.secret = secret or os.environ.get("NEXPRESS_SECRET") or None
        self.trust_proxy = trust_proxy
        self.body_timeout = body_timeout
        self.views = views
        self.locals: dict[str, Any] = {}
        self._startup: list[Callable] = []
        self._shutdown: list[Callable] = []
        self._templates = None
        self._file_routes = None
        self._cache = None
        self.openapi = _serve_openapi(self, openapi) if openapi is not None else None

    # Any declaration made after compiling invalidates the table.
    @property
    def _version(self) -> int:
        return self.__dict__.get("_v", 0)

    @_version.setter
    def _version(self, value: int) -> None:
        self.__dict__["_v"] = value
        self._table = None

    # --- lifespan -----------------------------------------------------------------

    def on_startup(self, fn: Callable) -> Callable:
        """Run ``fn`` (sync or async) when the server starts."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: Callable) -> Callable:
        """Run ``fn`` (sync or async) when the server stops."""
        self._shutdown.append(fn)
        return fn

    @property
    def cache(self):
        """The app's cache (``nexpress.cache.Cache``), from ``cache=`` or NEXPRESS_CACHE_URL."""
        if self._cache is None:
            from .cache import Cache, store_from_url

            self._cache = Cache(store_from_url(self.cache_url, self.root)).activate()
        return self._cache

    async def _start_cache(self) -> None:
        cache = self.cache.activate()
        if self.debug:
            await cache.clear()  # dev: a restart after a source change starts empty
            return
        from .build import load_prerendered

        await load_prerendered(self)

    async def _start_cache_for_build(self) -> None:
        """Build and export run the start-up handlers (databases...) and render with a
        private in-memory cache (never the shared store)."""
        from .cache import Cache, MemoryStore

        self._cache = Cache(MemoryStore()).activate()
        await _run_all(self._startup)

    async def _stop_after_build(self) -> None:
        await _run_all(self._shutdown)

    @property
    def templates(self):
        if self._templates is None:
            from .templating import Templates

            self._templates = Templates(os.path.join(self.root, self.views), auto_reload=self.debug)
        return self._templates

    # --- the route table ----------------------------------------------------------

    def extra_routes(self) -> list[RouteDef]:
        """Routes the app adds itself: files in ``public/`` (and file routes)."""
        routes: list[RouteDef] = []
        from .pages import discover  # file routes are optional: only apps with app/ pay

        self._file_routes = discover(self)
        if self._file_routes is not None:
            routes.extend(self._file_routes.routes)
        if self.public:
            folder = os.path.join(self.root, self.public)
            if os.path.isdir(folder):
                routes.extend(_public_routes(folder, self.root))
        return routes

    def compile(self) -> RouteTable:
        """Build the route table now (done automatically at start-up); raises on
        conflicts and bad declarations, naming the files and lines involved."""
        table = compile_routes(self, self.extra_routes())
        header = self.route_header
        for route in table.routes:
            route.route_header = route.source.encode("utf-8") if header else None
            route.invoke = build_invoker(route, self)
        self._table = table
        return table

    @property
    def table(self) -> RouteTable:
        return self._table or self.compile()

    # --- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http":
            table = self._table or self.compile()
            raw = scope.get("raw_path")
            if raw is not None:
                try:
                    path = raw.decode("ascii")
                except UnicodeDecodeError:
                    path = None
            else:
                from urllib.parse import quote

                path = quote(scope["path"])
            if scope.get("root_path") and path is not None:
                path = _strip_root(scope, path)
            if path is not None:
                methods = table.static.get(path)
                if methods is not None:
                    route = methods.get(scope["method"])
                    if route is not None:
                        await route.invoke(scope, receive, send, path, {})
                        return
                if "%" not in path and path[:1] == "/" and len(path) > 1:
                    found = table.match(scope["method"], path[1:].split("/"))
                    if found is not None:
                        await found[0].invoke(scope, receive, send, path, found[1])
                        return
            await self._dispatch(table, scope, receive, send, path, raw)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1000})

    async def _dispatch(self, table: RouteTable, scope: dict, receive: Callable, send: Callable, path: str | None, raw: bytes | None) -> None:
        """Everything but a static-path hit: the tree, redirects, 404/405/OPTIONS."""
        method = scope["method"]
        try:
            if path is None:
                path = decode_raw_path(raw or b"/")
            if not path.startswith("/"):
                raise BadRequest("The request path must start with '/'")
            segs = split_path(path)
        except HTTPError as exc:
            shown = path if path is not None else (raw or b"/").decode("latin-1")
            req = Request(scope, receive, shown, {}, None, self)
            res = await self._handle_error(exc, req, Response(), ())
            if res is not None:
                await write_response(res, req, send, None)
            return
        found = table.match(method, segs)
        if found is not None:
            route, params = found
            await route.invoke(scope, receive, send, path, params)
            return
        if len(path) > 1 and path.endswith("/"):
            stripped = path.rstrip("/")
            if stripped and not stripped.startswith("//") and "\\" not in stripped:
                try:
                    stripped_segs = split_path(stripped)
                except HTTPError:
                    stripped_segs = None
                if stripped_segs is not None and (
                    table.match(method, stripped_segs) or table.allowed(stripped_segs)
                ):
                    qs = scope.get("query_string", b"").decode("latin-1")
                    location = stripped + ("?" + qs if qs else "")
                    res = Response(status=308).redirect(location, 308)
                    req = Request(scope, receive, path, {}, None, self)
                    await write_response(res, req, send, None)
                    return
        allowed = table.allowed(segs)
        await self._fallback(table, scope, receive, send, path, allowed)

    async def _fallback(self, table: RouteTable, scope: dict, receive: Callable, send: Callable, path: str, allowed: set[str]) -> None:
        """No route matched: middleware still runs (CORS, logging...), then 404/405/OPTIONS."""
        method = scope["method"]
        req = Request(scope, receive, path, {}, None, self)
        res = Response()
        res._request = req

        async def terminal(req: Request, res: Response) -> None:
            if allowed:
                methods = set(allowed)
                if "GET" in methods:
                    methods.add("HEAD")
                methods.add("OPTIONS")
                allow = ", ".join(sorted(methods))
                if method == "OPTIONS":
                    res.status(204).set("allow", allow).end()
                    return
                raise HTTPError(
                    405, f"{method} is not allowed here; allowed: {allow}", headers={"allow": allow}
                )
            raise HTTPError(404, f"Nothing here: {method} {path}")

        try:
            await run_chain(table.fallback, terminal, 0, req, res)
            prepare(res, req)
        except Exception as exc:
            res = await self._handle_error(exc, req, res, tuple(e.handler for e in self._errors))
            if res is None:
                return
        await write_response(res, req, send, None)

    # --- errors --------------------------------------------------------------------

    async def _handle_error(self, exc: Exception, req: Request, res: Response, handlers: tuple[Callable, ...]) -> Response | None:
        """Run error handlers innermost-first; the first that sends wins, else the default."""
        if isinstance(exc, ClientDisconnect):
            # Either the client left (the answer goes nowhere) or the server gave up
            # on a malformed body (e.g. bad chunked framing): answer 400 for the latter.
            exc = HTTPError(400, "The request body was incomplete or malformed")
        _reset(res, exc)
        res._request = req
        err: Exception = exc
        for handler in handlers:
            try:
                result = handler(err, req, res)
                if inspect.isawaitable(result):
                    result = await result
                if isinstance(result, Response):
                    adopt(res, result)
                elif result is not None and not res.sent:
                    res.send(result)
                if res.sent:
                    prepare(res, req)
                    return res
            except Exception as new:  # a handler may raise another error to pass on
                if new is not err:
                    err = new
                    _reset(res, new)
        return self._default_error(err, req, res)

    def _default_error(self, err: Exception, req: Request, res: Response) -> Response:
        if isinstance(err, HTTPError):
            status, title, detail, extra = err.status, err.title, err.detail, err.fields
            for name, value in err.headers.items():
                res.set(name, value)
            trace = None
            if status >= 500:
                logger.error("%s %s -> %s %s", req.method, req.raw_path, status, detail or title)
        else:
            status, title, extra = 500, "Internal Server Error", {}
            detail = None
            logger.error(
                "Unhandled error in %s %s", req.method, req.raw_path, exc_info=err
            )
            if isinstance(err, (NoResponseError, MiddlewareError)) and self.debug:
                detail = str(err)
            elif self.debug:
                detail = f"{type(err).__name__}: {err}"
            trace = "".join(traceback.format_exception(err)) if self.debug else None
            if self.debug:
                req.scope["nexpress.error"] = err
        res.status_code = status
        accept = req.scope["headers"] and _raw_header(req.scope["headers"], b"accept")
        if _http.wants_html(accept):
            page = self.error_page(status, title, detail, trace, req)
            res.set("content-type", HTML)
            res._body = page
        else:
            if trace:
                extra = {**extra, "traceback": trace.splitlines()}
            res.set("content-type", _PROBLEM)
            res._body = problem(status, title, detail, req.raw_path if req.route is None else None, err.type if isinstance(err, HTTPError) else "about:blank", extra)
        res.sent = True
        return res

    def error_page(self, status: int, title: str, detail: str | None, trace: str | None, req: Request) -> bytes:
        """The HTML page browsers get for an error: the nearest ``not-found.html``
        (404) or ``error.html`` of the file routes, else a plain page."""
        if trace is not None:  # debug: the traceback and the failing source, not a pretty page
            error = req.scope.get("nexpress.error")
            frame = failing_frame(error, os.path.dirname(__file__) + os.sep) if error else None
            excerpt = f"{os.path.relpath(frame[0], self.root)}:{frame[1]}\n{frame[2]}" if frame else None
            return html_page(status, title, detail, trace, req.route.source if req.route else None, excerpt)
        pages = self._file_routes
        if pages is not None:
            found = pages.nearest(req.raw_path, "not_found" if status == 404 else "error")
            if found is None and status != 404:
                found = None
            if found is not None:
                folder, template = found
                context = {"status": status, "title": title, "detail": detail, "trace": trace, "req": req}
                try:
                    return pages.renderer.error_document(folder, template, context).encode("utf-8")
                except Exception:
                    logger.exception("rendering %s failed", template)
        return html_page(status, title, detail, trace)

    async def _lifespan(self, receive: Callable, send: Callable) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.compile()
                    await self._start_cache()
                    await _run_all(self._startup)
                except BaseException as exc:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await _run_all(self._shutdown)
                    if self._cache is not None:
                        await self._cache.close()
                except BaseException as exc:
                    logger.exception("shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


def _serve_openapi(app: App, config: dict[str, Any]) -> Any:
    """``App(openapi=...)``: /openapi.json and /docs (optional: apps without pay nothing)."""
    from .openapi import serve_openapi

    return serve_openapi(app, config)


async def _run_all(functions: list[Callable]) -> None:
    """Call start-up or shutdown handlers in order (sync or async)."""
    for fn in functions:
        result = fn()
        if inspect.isawaitable(result):
            await result


def _strip_root(scope: dict, path: str) -> str:
    """Mounted under a prefix (ASGI: ``path`` includes ``root_path``), route on the
    rest; a server's --root-path behind a prefix-stripping proxy leaves path alone."""
    from urllib.parse import quote

    root = quote(scope["root_path"].rstrip("/"))
    if root and (path == root or path.startswith(root + "/")):
        scope["nexpress.root_stripped"] = True
        return path[len(root) :] or "/"
    return path


def _raw_header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


_DROP_ON_ERROR = frozenset(
    (b"content-type", b"content-length", b"content-disposition", b"etag", b"last-modified", b"content-range", b"accept-ranges", b"location")
)


def _reset(res: Response, err: Exception) -> None:
    """Clear a half-built response for an error handler, keeping headers such as
    CORS or Set-Cookie that earlier middleware set."""
    res._body = b""
    res._stream = None
    res._file = None
    res.sent = False
    res._headers = [h for h in res._headers if h[0] not in _DROP_ON_ERROR]
    res.status_code = err.status if isinstance(err, HTTPError) else 500


def _escape_pattern(path: str) -> str:
    out = []
    for ch in path:
        if ch in ":*{}()[]?+!\\":
            out.append("\\")
        out.append(ch)
    return "".join(out)


def _public_routes(folder: str, root: str) -> list[RouteDef]:
    """A GET route per file in ``public/`` (dotfiles are never served)."""
    routes = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            full = os.path.join(dirpath, filename)
            if safe_join(folder, os.path.relpath(full, folder).replace(os.sep, "/")) is None:
                continue  # a symlink out of public/ is never served (the rule static() uses)
            url = "/" + os.path.relpath(full, folder).replace(os.sep, "/")
            source = os.path.relpath(full, root).replace(os.sep, "/")
            routes.append(
                RouteDef("GET", _escape_pattern(url), (_file_sender(full),), {}, f"{full}:1", "static-file", source)
            )
    return routes


def _file_sender(path: str) -> Callable:
    async def send_public_file(req: Request, res: Response) -> None:
        res.send_file(path)

    return send_public_file


__all__ = ["App"]
