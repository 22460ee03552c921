"""``App``: configuration, the router tree's root, lifespan, and the ASGI entry.

The ASGI entry is deliberately thin: it hands HTTP requests to the compiled
:class:`~nexpress.server.Dispatcher` (one dict lookup answers static paths; the
segment tree answers the rest); everything else was decided at start-up, by
:meth:`App.compile`, which also rebuilds when a router of the tree changes.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, overload

from .config import load_settings
from .http.calls import call_all
from .http.context import PROCESS, RequestContext, TrustProxy, enter_context
from .http.csrf import MissingSecret, has_secret
from .http.errors import StartupError
from .http.locales import I18nConfig
from .http.templating import Templates, Views
from .http.websocket import (
    DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PER_CLIENT,
    WebSocketLimits,
)
from .pages.builds import AssetBuild, check_builds
from .pages.plugin import ClientScript, Pages, PublicFiles
from .realtime.pubsub import DEFAULT_BUFFER, Broker, Subscription, broker_from_url
from .routing import Router
from .routing.router import H
from .routing.table import RouteTable, compile_routes
from .server import Dispatcher, ErrorLayer, build_invoker
from .server.lifespan import BUILD_OUTPUT_KEY, FREEZE_KEY, Lifecycle, freeze_heap

if TYPE_CHECKING:  # the features below load when the app enables them (issue 21: import time)
    from .cache import Cache
    from .devtools import DevTools
    from .images import Images
    from .openapi import OpenAPI
    from .pages.routes import FileRoutes

logger = logging.getLogger("nexpress")

MiB = 1024 * 1024
DEV_SECRET = "dev-secret"
"""The file under ``.nexpress/`` keeping ``nexpress dev``'s generated secret across reloads."""

__all__ = ["App"]

T = TypeVar("T")


class _ContextSetting(Generic[T]):
    """An ``App`` setting that the request context carries: assigning it (the dev
    secret, ``Auth``'s start-up setting the app's secret, a test turning on
    ``trust_proxy``) rebuilds the context and rebinds the compiled routes to it."""

    __slots__ = ("attr",)

    def __set_name__(self, owner: type, name: str) -> None:
        self.attr = "_" + name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...
    @overload
    def __get__(self, obj: App, owner: type | None = None) -> T: ...
    def __get__(self, obj: App | None, owner: type | None = None) -> T | Self:
        if obj is None:
            return self
        return obj.__dict__[self.attr]

    def __set__(self, obj: App, value: T) -> None:
        obj.__dict__[self.attr] = value
        obj._context_changed()


class App(Router):
    """A nexpress application: an ASGI 3 callable.

    ``App(root=".", pages="app", public="public", cache=None, debug=None)``;
    keyword-only: ``secret`` (signed cookies), ``trust_proxy`` (False, True, a hop
    count or a list of proxy addresses/networks), ``route_header`` (send
    ``x-nexpress-route``; on in debug), ``body_limit`` (1 MiB), ``file_limit``
    (10 MiB), ``body_timeout`` (30 s without a body chunk -> 408), ``body_deadline``
    (300 s for a whole body -> 408), ``views``
    ("views", for ``res.render``), ``pubsub`` (the broker of ``publish``/``subscribe``:
    "memory://" or "redis://..."; NEXPRESS_PUBSUB_URL wins), ``ws_origins`` (origins
    allowed to open WebSockets besides the same origin; ["*"] for any), ``ws_max_size``
    (1 MiB per WebSocket message; 0 for no limit), ``ws_max_connections`` (4096
    WebSockets open per process), ``ws_max_per_client`` (64 per client address),
    ``ws_idle_timeout`` (300 s without a message either way closes with 1001; 0 or
    None for no limit on any of the three), ``openapi`` (a dict: serve
    ``/openapi.json`` and ``/docs``, see nexpress.openapi), ``health`` (True: serve
    ``/healthz`` and ``/readyz``, see nexpress.server.health), ``images`` (a dict or
    True: ``/_nexpress/image`` and ``image()`` in templates, see nexpress.images), ``i18n`` (a dict:
    ``{"locales": ["en", "fr"], "default": "en", "prefix_default": False}``, see
    nexpress.i18n and docs/i18n.md).
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
        trust_proxy: bool | int | list[str] | None = None,
        route_header: bool | None = None,
        body_limit: int | str | None = None,
        file_limit: int | str | None = None,
        body_timeout: float | None = None,
        body_deadline: float | None = None,
        views: str = "views",
        base_url: str | None = None,
        pubsub: str | None = None,
        ws_origins: list[str] | None = None,
        ws_max_size: int = MiB,
        ws_max_connections: int | None = DEFAULT_MAX_CONNECTIONS,
        ws_max_per_client: int | None = DEFAULT_MAX_PER_CLIENT,
        ws_idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT,
        openapi: dict[str, Any] | None = None,
        health: bool = False,
        asset_builds: list[AssetBuild] | None = None,
        images: dict[str, Any] | bool | None = None,
        i18n: dict[str, Any] | I18nConfig | None = None,
    ) -> None:
        self._dispatch: Callable | None = None  # the compiled Dispatcher's dispatch method
        self._dispatcher: Dispatcher | None = None
        self._table: RouteTable | None = None
        self._context: RequestContext | None = None  # built by compile (or on first use)
        settings = load_settings(
            root, pages=pages, public=public, views=views, cache=cache, debug=debug, secret=secret,
            trust_proxy=trust_proxy, route_header=route_header, body_limit=body_limit,
            file_limit=file_limit, body_timeout=body_timeout, body_deadline=body_deadline, pubsub=pubsub, base_url=base_url,
        )  # fmt: skip
        self.settings = settings
        """Every setting as resolved (``settings.sources`` says where each came from)."""
        super().__init__(body_limit=settings.body_limit, file_limit=settings.file_limit)
        self.root = settings.root
        self.pages = settings.pages
        self.public = settings.public
        self.cache_url = settings.cache
        self.debug = settings.debug
        self.route_header = settings.route_header
        self.secret = settings.secret
        self.trust_proxy = settings.trust_proxy
        self.body_timeout = settings.body_timeout
        self.body_deadline = settings.body_deadline
        self.views = settings.views
        self.base_url = settings.base_url
        """The public URL of the site (sitemap, feeds, absolute links), or None."""
        self.pubsub_url = settings.pubsub
        self.broker: Broker = broker_from_url(self.pubsub_url)
        self.ws_origins = ws_origins
        self.ws_max_size = ws_max_size
        self.ws_limits = WebSocketLimits(ws_max_connections, ws_max_per_client, ws_idle_timeout)
        """The WebSocket connection caps and idle timeout, with this process's counts."""
        self._locals: dict[str, Any] = {}
        self.i18n: I18nConfig | None = I18nConfig.from_settings(i18n) if i18n is not None else None
        """``App(i18n=...)`` validated (an error naming the fix when it is not usable), or None."""
        self.catalogs: Catalogs | None = None
        """The Babel message catalogs under ``locales/`` (with ``i18n``), loaded per locale on first use."""
        if self.i18n is not None:
            from .i18n.catalogs import Catalogs  # only apps with locales load the feature

            self.catalogs = Catalogs(self.root, self.i18n.default, self.debug)
        from .cache import Cache, store_from_url  # here, not at import: the cache is a feature

        self.cache: Cache = Cache(store_from_url(self.cache_url, self.root))
        """The app's cache (:class:`nexpress.cache.Cache`), from ``cache=`` or NEXPRESS_CACHE_URL."""
        if self.i18n is not None:  # revalidate_path("/blog") reaches /fr/blog too
            self.cache.locales = self.i18n.locales
        self._views: Views | None = None
        self._not_found: Callable | None = None
        self.auth: Any = None  # the nexpress.auth.Auth that app.use(auth) installed, if any
        self.lifecycle = Lifecycle()
        """Starting, ready, draining or stopped: what ``/readyz`` reports (nexpress.server.health)."""
        self.asset_builds = check_builds(asset_builds or ())
        """Declared asset build steps (Tailwind's CLI...), run by the CLI (nexpress.pages.builds)."""
        # The features the app serves by default install through the one seam (Plugin), in
        # this order (their routes follow the ones declared on the app).
        self.devtools: DevTools | None = None
        """In debug: ``/_nexpress`` and the request log (nexpress.devtools)."""
        if self.debug:
            from .devtools import DevTools

            self.devtools = DevTools(self)
            self.use(self.devtools)
        self._pages = Pages(self)
        if self.pages:
            self.use(self._pages, ClientScript(self._pages))
        if self.public:
            self.use(PublicFiles(os.path.join(self.root, self.public), self.root))
        self.openapi: OpenAPI | None = None
        """``App(openapi=...)``: the document and explorer (nexpress.openapi), else None."""
        if openapi is not None:
            from .openapi import OpenAPI

            self.openapi = OpenAPI(openapi)
            self.use(self.openapi)
        if health:
            from .server.health import Health

            self.use(Health())
        self.images: Images | None = None
        """With ``App(images={...})``: ``/_nexpress/image`` and ``image()`` in templates (nexpress.images)."""
        if images is not None and images is not False:
            from .images import Images  # only apps with images load the feature

            public = os.path.join(self.root, self.public) if self.public else None
            self.images = Images(images, root=self.root, public=public, debug=bool(self.debug), cache=self.cache)
            self.use(self.images)

    secret = _ContextSetting[str | None]()
    trust_proxy = _ContextSetting[TrustProxy]()
    body_timeout = _ContextSetting[float]()
    body_deadline = _ContextSetting[float]()
    ws_origins = _ContextSetting[list[str] | None]()
    ws_max_size = _ContextSetting[int]()
    ws_limits = _ContextSetting[WebSocketLimits]()

    def _changed(self) -> None:
        # any declaration made after compiling, on this app or a router mounted on it
        self._dispatch = None
        self._dispatcher = None
        self._table = None
        super()._changed()

    def not_found(self, handler: H) -> H:
        """Answer requests no route matched with ``handler(req, res)`` (sync or async),
        instead of the default 404. Express apps end with ``app.use(not_found)``;
        middleware here applies whatever its order, so this hook takes that role."""
        self._not_found = handler
        self._changed()
        return handler

    @property
    def file_routes(self) -> FileRoutes | None:
        """The discovered ``app/`` folder (after :meth:`compile`), or None."""
        return self._pages.file_routes

    # --- publish/subscribe -----------------------------------------------------------


    async def publish(self, channel: str, data: Any) -> None:
        """Send ``data`` (str, bytes or JSON-encodable) to every ``subscribe(channel)``,
        on every instance sharing the broker; raises ``BrokerUnavailable`` if it is down."""
        await self.broker.publish(channel, data)

    def subscribe(self, channel: str, *, buffer: int = DEFAULT_BUFFER) -> Subscription:
        """``async with app.subscribe(channel) as inbox: async for data in inbox``;
        a subscriber more than ``buffer`` messages behind loses the oldest."""
        return self.broker.subscribe(channel, buffer=buffer)

    @property
    def locals(self) -> dict[str, Any]:
        """Values every ``res.render`` template sees (Express's ``app.locals``)."""
        return self._locals

    @locals.setter
    def locals(self, value: dict[str, Any]) -> None:
        self._locals = value
        if self._views is not None:
            self._views.locals = value

    @property
    def views_folder(self) -> Views:
        """What ``res.render`` uses (``req.ctx.views``): ``views/`` and ``app.locals``;
        Jinja2 loads on the first render."""
        if self._views is None:
            setup = None
            if self.i18n is not None:  # _(), ngettext, format_*, locale_url in views/ too
                from .i18n.templates import install as setup  # with locales only: Babel's helpers
            self._views = Views(os.path.join(self.root, self.views), self._locals, auto_reload=self.debug, setup=setup)
        return self._views

    @property
    def templates(self) -> Templates:
        """The Jinja2 environment of ``views/`` used by ``res.render``."""
        return self.views_folder.templates

    # --- the route table ----------------------------------------------------------

    def compile(self) -> RouteTable:
        """Build the route table now (done automatically at start-up); raises on
        conflicts and bad declarations, naming the files and lines involved. The
        plugins' generated routes (``app/``, ``public/``...) are read again here."""
        from .i18n.context import activate as activate_i18n
        from .i18n.messages import activate_catalogs

        # what _(), format_*() and locale_url() read outside any app's call (a script, a
        # test); inside one they read the running app's (its RequestContext)
        activate_i18n(self.i18n)
        activate_catalogs(self.catalogs)
        table = compile_routes(
            self,
            root=self.root,
            body_limit=self.body_limit,
            file_limit=self.file_limit,
            route_header=bool(self.route_header),
        )
        return self._bind(table)

    @property
    def context(self) -> RequestContext:
        """The request context every ``Request`` of this app carries (``req.ctx``):
        the settings the layers below the app read, built when the app compiles."""
        context = self._context
        if context is None:
            context = self._context = self._build_context()
        return context

    def _build_context(self) -> RequestContext:
        return RequestContext(
            app=self,
            secret=self.secret,
            trust_proxy=self.trust_proxy,
            body_limit=self.body_limit,
            file_limit=self.file_limit,
            body_timeout=self.body_timeout,
            body_deadline=self.body_deadline,
            ws_max_size=self.ws_max_size,
            ws_origins=self.ws_origins,
            ws_limits=self.ws_limits,
            cache=self.cache,
            views=self.views_folder,
            i18n=self.i18n,
            catalogs=self.catalogs,
        )

    def _context_changed(self) -> None:
        """A setting the context carries changed: a new context, and the compiled
        routes rebound to it (no new discovery: the table stays)."""
        self._context = None
        if self._table is not None:
            self._bind(self._table)

    def _bind(self, table: RouteTable) -> RouteTable:
        """The per-request objects of ``table``: the context, the table bound to
        invokers (a copy: routes are immutable), the dispatcher."""
        context = self._context = self._build_context()
        PROCESS.compiled(context)
        errors = ErrorLayer(self.debug, self.root, self.file_routes)
        table = table.bind(lambda route: build_invoker(route, errors, context))
        dispatcher = Dispatcher(
            table,
            errors,
            context,
            app_error_handlers=tuple(e.handler for e in self.error_handlers),
            not_found=self._not_found,
        )
        self._dispatcher = dispatcher
        self._dispatch = dispatcher.dispatch
        if self.devtools is not None and self.debug:  # the dev page's request log
            self._dispatch = self.devtools.log.wrap(dispatcher.dispatch)
        self._table = table
        return table

    @property
    def dispatcher(self) -> Dispatcher:
        """The compiled request path (``dispatcher.resolve(method, url)`` says what a
        request would get, as ``nexpress routes URL`` shows)."""
        if self._dispatcher is None:
            self.compile()
        assert self._dispatcher is not None
        return self._dispatcher

    @property
    def table(self) -> RouteTable:
        """The compiled route table (compiled on first use)."""
        if self._table is None:
            return self.compile()
        return self._table

    # --- lifespan -------------------------------------------------------------------

    def secret_users(self) -> list[str]:
        """What needs ``App(secret=...)``, from the compiled table: pages rendering
        ``csrf()``/``action()``, server actions, middleware such as ``csrf()`` or an
        ``Auth`` without its own secret. Start-up refuses to run without a secret
        when this is not empty (``nexpress dev`` makes one)."""
        table = self.table
        users = list(self.file_routes.secret_users) if self.file_routes is not None else []
        steps = [step for route in table.routes for step in route.middleware] + list(table.fallback)
        for step in steps:
            reason = getattr(step.fn, "secret_needed", None)
            if reason and reason not in users:
                users.append(reason)
        return users

    def _ensure_dev_secret(self, users: list[str]) -> None:
        """Debug runs without a secret get one, with a warning: kept in
        ``.nexpress/dev-secret`` under ``nexpress dev`` (a reload keeps sessions and
        CSRF cookies valid), else made for this process."""
        from .cache.manifest import OUTPUT
        from .devtools import TOKEN_ENV

        persist = bool(os.environ.get(TOKEN_ENV))
        self.secret = dev_secret(self.root) if persist else secrets.token_urlsafe(32)
        where = f"kept in {OUTPUT}/{DEV_SECRET}" if persist else "for this process only"
        logger.warning(
            "nexpress: no App(secret=...)/NEXPRESS_SECRET, which these need: %s. Using a development secret"
            " (%s); `nexpress start` refuses to start without one.",
            _listing(users),
            where,
        )

    async def startup(self, *, for_build: bool = False, build_output: bool = True) -> None:
        """What the server's start-up runs: compile, check the secret, prepare the
        cache (seeded from ``nexpress build``'s output unless ``build_output=False``,
        as ``TestClient`` does, or when its sources changed since), run the start-up
        handlers. ``for_build``: ``nexpress build``/``export`` render with a private
        in-memory cache, never the shared store."""
        table = self.compile()
        users = self.secret_users()
        if users and self.debug and not has_secret(self) and not getattr(self.auth, "has_own_secret", False):
            self._ensure_dev_secret(users)
        enter_context(self.context)  # @cached and revalidate_* in start-up handlers use this app's cache
        if for_build:
            from .cache.stores import MemoryStore

            self.cache.use_store(MemoryStore())
        if not for_build:
            if self.debug:
                await self.cache.clear()  # dev: a restart after a source change starts empty
            elif build_output:
                await self._load_build_output()
        await call_all(list(table.startup))
        if users and not has_secret(self):  # after the handlers: Auth(secret=...) sets the app's
            raise MissingSecret(
                f"App(secret=...) is not set, and these need it: {_listing(users)}. Set App(secret=...) or the"
                " NEXPRESS_SECRET environment variable (AUTH_SECRET works too), e.g. with the output of"
                " python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        if not for_build:
            self.lifecycle.started()

    async def _load_build_output(self) -> None:
        """Seed the cache from ``.nexpress/``, unless a source it was built from changed."""
        from .cache.manifest import OUTPUT as OUTPUT_FOLDER
        from .cache.manifest import load_prerendered, stale_sources

        changed = stale_sources(self.root, self.source_folders())
        if changed:
            logger.warning(
                "nexpress: not serving the prerendered pages in %s/: %s changed since `nexpress build`"
                " (pages render on first request instead). Run `nexpress build` again.",
                OUTPUT_FOLDER,
                _listing(changed, ", "),
            )
            return
        await load_prerendered(self.root, self.cache)

    def source_folders(self) -> list[str]:
        """The folders whose files a build depends on: ``app/`` and ``public/``."""
        return [os.path.join(self.root, name) for name in (self.pages, self.public) if name]

    async def shutdown(self) -> None:
        """Run the shutdown handlers, then close the cache and the pub/sub broker."""
        self.lifecycle.stopped()
        try:
            await call_all(list(self.table.shutdown))
        finally:
            await self.cache.close()
            await self.broker.close()

    # --- serving ---------------------------------------------------------------------

    def listen(
        self,
        port: int = 3000,
        host: str = "127.0.0.1",
        *,
        workers: int = 1,
        server: str = "granian",
        grace: float = 30.0,
    ) -> None:
        """Serve this app until stopped, as ``nexpress start`` does (Express's
        ``app.listen(3000)``): ``python server.py`` with ``app.listen(3000)`` at the end.

        The server's workers import the app's module again; there this call does
        nothing, so it may stand at module level as in Express."""
        from .server.serving import (
            SERVING_VARIABLE,
            ServeOptions,
            check_address,
            run_server,
            split_state_warning,
        )

        if os.environ.get(SERVING_VARIABLE):
            return
        options = ServeOptions(host=host, port=port, workers=workers, server=server, grace=grace)
        check_address(options)
        warning = split_state_warning(workers, self.settings)
        if warning:
            logger.warning("nexpress: %s", warning)
        spec, folder = import_spec(self)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [folder, os.environ.get("PYTHONPATH")]))
        logger.warning("nexpress: serving %s on %s", spec, options.address)
        run_server(spec, options)

    # --- ASGI ------------------------------------------------------------------------

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        # with several apps in the process, each call marks its context as this app's
        # (the data cache @cached and revalidate_* use); a lone app is found without it
        if scope["type"] == "http":
            dispatch = self._dispatch
            if dispatch is None:
                self.compile()
                dispatch = self._dispatch
                assert dispatch is not None
            if PROCESS.several:
                enter_context(self._context)
            await dispatch(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(
                receive, send, build_output=scope.get(BUILD_OUTPUT_KEY, True), freeze=scope.get(FREEZE_KEY, not self.debug)
            )
        elif scope["type"] == "websocket":
            dispatcher = self.dispatcher
            enter_context(self._context)
            await dispatcher.websocket(scope, receive, send)

    async def _lifespan(self, receive: Callable, send: Callable, *, build_output: bool = True, freeze: bool = False) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup(build_output=build_output)
                except StartupError as exc:  # the message names the fix: no traceback
                    logger.error("start-up failed: %s", exc)
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                except BaseException as exc:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                if freeze and freeze_heap():  # production: start-up's objects out of the GC's way
                    logger.debug("start-up objects frozen (gc.freeze)")
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.shutdown()
                except BaseException as exc:
                    logger.exception("shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return


def _listing(items: list[str], separator: str = "; ", limit: int = 5) -> str:
    """``a; b; c`` (the first ``limit``, then how many more)."""
    more = f"{separator}and {len(items) - limit} more" if len(items) > limit else ""
    return separator.join(items[:limit]) + more


def dev_secret(root: str) -> str:
    """The development secret kept in ``root/.nexpress/dev-secret`` (made on first
    use, readable by the owner only); a fresh one when the folder is not writable."""
    from .cache.manifest import OUTPUT

    path = os.path.join(root, OUTPUT, DEV_SECRET)
    try:
        with open(path, encoding="utf-8") as fh:
            kept = fh.read().strip()
        if len(kept) >= 32:
            return kept
    except OSError:
        pass
    made = secrets.token_urlsafe(32)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(made)
    except OSError:
        pass
    return made


def import_spec(app: App) -> tuple[str, str]:
    """``module:attr`` naming ``app`` for a server's workers, and the folder to import
    it from: the module (the running script, under its file name) that holds it."""
    main = sys.modules.get("__main__")
    candidates = [main] + [m for name, m in list(sys.modules.items()) if name != "__main__"]
    for module in candidates:
        if module is None:
            continue
        for attr, value in list(vars(module).items()):
            if value is app:
                filename = getattr(module, "__file__", None)
                if module is main and filename:
                    name = os.path.splitext(os.path.basename(filename))[0]
                    return f"{name}:{attr}", os.path.dirname(os.path.abspath(filename))
                return f"{module.__name__}:{attr}", os.getcwd()
    raise RuntimeError(
        "app.listen() could not find the app in an importable module: assign it to a global"
        " (app = App()) in the script you run, or use `nexpress start module:attr`"
    )
