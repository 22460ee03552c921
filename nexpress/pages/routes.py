"""File-system routing: the ``app/`` folder turned into ordinary routes.

Discovery runs once, at start-up, and produces the same ``RouteDef`` objects
that ``app.get()`` creates (kind ``static``/``isr``/``dynamic``/``api``, source
``app/blog/[slug]/page.py``), so file routes and Express routes share one
route table, one precedence and one conflict check.

| file | role |
|---|---|
| ``page.html`` / ``page.py`` | a page at the folder's URL |
| ``route.py`` | API handlers ``GET POST PUT PATCH DELETE`` |
| ``layout.html`` (+ ``layout.py``) | wraps every page below; outputs ``{{ children }}``; ``dynamic = True`` in ``layout.py``: every page below is dynamic |
| ``error.html`` / ``not-found.html`` | nearest one renders errors / 404s below it (and inside a failed streamed region) |
| ``loading.html`` | nearest one is flushed while a page's ``data()`` is slow, and shown by client navigation at once (docs/streaming.md) |
| ``middleware.py`` | ``async def middleware(req, res, next)`` for its folder and below |
| ``sitemap.py`` / ``robots.py`` | ``/sitemap.xml`` / ``/robots.txt`` |

Folder names: ``[slug]`` -> ``:slug``, ``[...path]`` -> ``*path``,
``[[...path]]`` -> optional ``*path``, ``(group)`` -> nothing, ``_private`` ->
never routed."""

from __future__ import annotations

import functools
import inspect
import os
import re
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from markupsafe import Markup

from ..cache.isr import CachedEndpoint
from ..http.locales import I18nConfig, split_locale
from ..i18n.context import reset_locale, use_locale
from ..i18n.routing import localize
from ..i18n.urls import localized_sitemap
from ..routing.pattern import pattern_regex
from ..routing.router import METHODS, RouteDef, positional_arity
from ..typed.plan import plan_for
from . import client
from . import metadata as meta
from .actions import ActionEndpoint, actions_of
from .assets import Assets
from .errors import PageError, layout_data_for_error
from .folders import FileRouteError, Folder, Layout, folder_segment, load_module
from .guards import AuthGuard, FolderMiddleware
from .loading import LoadingManifest, has_loading, meta_tag
from .modes import MODE_NAMES, check_layout_mode, page_mode, requires_auth
from .navigation import CACHED_FINISH, FINISH, close_marker, layout_id, open_marker, shell_hash
from .reads import request_reads
from .reasons import cache_info, hole_info, template_reads
from .render import (
    Helpers,
    LayoutPlan,
    LocalizedPage,
    PageEndpoint,
    SpecialEndpoint,
    base_context,
    constant_layout,
    inject_tail,
)
from .streaming import HoleFinish

if TYPE_CHECKING:
    import jinja2

    from ..http.request import Request
    from ..http.response import Response
    from .regions import RegionsExtension


_REQUEST_VARIABLES = ("req", "query", "auth")
_SECRET_HELPERS = frozenset(("csrf", "action"))
_ON_USE_HELPERS = frozenset(("is_current", "with_query", "image"))
class FileRoutes:
    """The discovered ``app/`` tree: route definitions plus error pages.

    ``app`` is only carried into the requests that cached pages render with
    (``req.app``); its ``root``, ``debug`` and ``cache`` settings are read here once."""

    def __init__(self, app: Any, directory: str) -> None:
        self.app = app
        self.directory = directory
        self.root = app.root
        self.cache = app.cache
        self.debug = app.debug
        # Jinja2 loads here, with the first app that has an app/ folder: a JSON API
        # never pays its import. In dev an undefined variable is an error naming the
        # template and the variable, not empty text (production renders it empty, as
        # Jinja2 does by default).
        import jinja2

        from ..http._jinja import Environment
        from .regions import RegionsExtension

        self.env = Environment(
            loader=jinja2.FileSystemLoader(directory),
            autoescape=True,
            extensions=[RegionsExtension],
            auto_reload=app.debug,
            undefined=jinja2.StrictUndefined if app.debug else jinja2.Undefined,
        )
        self.i18n: I18nConfig | None = getattr(app, "i18n", None)
        """``App(i18n=...)``: pages once per locale (nexpress.i18n.routing), the i18n template helpers."""
        if self.i18n is not None:
            from ..i18n.templates import install

            install(self.env)
        public = os.path.join(self.root, app.public) if getattr(app, "public", None) else None
        self.assets = Assets(self.root, directory, public if public and os.path.isdir(public) else None)
        """Fingerprinted route assets and ``asset(path)`` (nexpress.pages.assets)."""
        self.env.globals["asset"] = self.assets.helper()
        self.regions: RegionsExtension = self.env.extensions[RegionsExtension.identifier]  # type: ignore[assignment]
        self.loading = LoadingManifest()
        self.loading_tag = meta_tag() if has_loading(directory) else ""
        """Every loading.html, for client navigation (nexpress.pages.loading)."""
        # image() from App(images=...) (nexpress.images; without it, an error naming the
        # setting): it reads nothing of the request, so a layout calling it can still be
        # pre-rendered (Jinja2 does not count globals as undeclared variables)
        images = getattr(app, "images", None)
        self.env.globals["image"] = images.template_global() if images is not None else _images_off
        self.folders: list[Folder] = []
        self.routes: list[RouteDef] = []
        self.secret_users: list[str] = []
        """Pages that need ``App(secret=...)`` (csrf(), action(), @action), read at start-up."""
        self._scan(directory, None, "")
        if self.i18n is not None:  # sitemap.xml and robots.txt exist once
            pages = [d for d in self.routes if not isinstance(d.handlers[-1], SpecialEndpoint)]
            special = [d for d in self.routes if isinstance(d.handlers[-1], SpecialEndpoint)]
            self.routes = localize(pages, self.i18n) + special
        self.routes.extend(self.loading.routes())  # /_nexpress/loading.json (nexpress.pages.loading)
        self.routes.append(self.assets.route())  # the client script is its own plugin (pages.plugin)

    # --- discovery --------------------------------------------------------------

    def rel(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def _scan(self, directory: str, parent: Folder | None, pattern: str) -> None:
        rel = self.rel(directory)
        template_dir = os.path.relpath(directory, self.directory).replace(os.sep, "/")
        template_dir = "" if template_dir == "." else template_dir
        folder = Folder(directory, rel, template_dir, pattern or "/", parent)
        self.folders.append(folder)
        names = set(os.listdir(directory))

        def tpl(name: str) -> str:
            return f"{template_dir}/{name}" if template_dir else name

        if "layout.html" in names:
            module = self._module(directory, "layout.py") if "layout.py" in names else None
            self._compile(tpl("layout.html"))
            source_vars = self._variables(tpl("layout.html"))
            if "children" not in source_vars:
                raise FileRouteError(
                    f"{rel}/layout.html must output {{{{ children }}}} where the page goes"
                )
            folder.layout = Layout(tpl("layout.html"), module, f"{rel}/layout.html")
        elif "layout.py" in names:
            raise FileRouteError(f"{rel}/layout.py needs a layout.html beside it")
        if "error.html" in names:
            self._compile(tpl("error.html"))
            folder.error = tpl("error.html")
        if "not-found.html" in names:
            self._compile(tpl("not-found.html"))
            folder.not_found = tpl("not-found.html")
        if "loading.html" in names:
            self._compile(tpl("loading.html"))
            folder.loading = tpl("loading.html")
            self.loading.add(folder, self._static_html(tpl("loading.html")), [f.layout for f in folder.chain() if f.layout is not None])
        if "middleware.py" in names:
            folder.middleware.append(self._folder_middleware(directory))

        has_page = "page.html" in names or "page.py" in names
        if "route.py" in names and has_page:
            page_file = "page.py" if "page.py" in names else "page.html"
            raise FileRouteError(
                f"{rel}/route.py and {rel}/{page_file} cannot share a folder: a URL is either a"
                " page or an API route; move one of them"
            )
        if has_page:
            self._add_page(folder, names, tpl)
        if "route.py" in names:
            self._add_api(folder)
        if parent is None:
            for special, url in (("sitemap.py", "/sitemap.xml"), ("robots.py", "/robots.txt")):
                if special in names:
                    self._add_special(folder, special, url)

        for name in sorted(names):
            path = os.path.join(directory, name)
            if not os.path.isdir(path) or name.startswith((".", "_")) or name == "__pycache__":
                continue
            piece, last = folder_segment(name, f"{rel}/{name}")
            child_pattern = pattern + piece
            if last and any(
                os.path.isdir(os.path.join(path, n)) and not n.startswith(("_", ".")) and n != "__pycache__"
                for n in os.listdir(path)
            ):
                raise FileRouteError(f"{rel}/{name}: a catch-all folder cannot have sub-folders")
            self._scan(path, folder, child_pattern)

    def _module(self, directory: str, filename: str) -> ModuleType:
        return load_module(os.path.join(directory, filename), self.root)

    def _compile(self, name: str) -> jinja2.Template:
        """Compile a template now so a syntax error stops start-up, naming file and line;
        check that what it includes exists."""
        import jinja2

        try:
            template = self.env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise FileRouteError(
                f"app/{name}:{exc.lineno}: template syntax error: {exc.message}"
            ) from None
        source = self._source(name)
        for included in self._includes(name):
            if included is None:
                continue
            if not os.path.isfile(os.path.join(self.directory, included)):
                line = next(
                    (i for i, text in enumerate(source.splitlines(), 1) if included in text), 0
                )
                raise FileRouteError(
                    f"app/{name}:{line}: template {included!r} not found: looked for"
                    f" {os.path.join(self.directory, included)}"
                )
        return template

    def is_constant(self, name: str, allowed: set[str] = frozenset(), _seen: set[str] | None = None) -> bool:
        """True when ``name`` (and everything it includes) reads no variable but ``allowed``."""
        seen = _seen if _seen is not None else set()
        if name in seen:
            return True
        seen.add(name)
        if self._variables(name) - allowed:
            return False
        for included in self._includes(name):
            if included is None or not self.is_constant(included, set(), seen):
                return False
        return True

    def _helpers_used(self, name: str, helpers: frozenset[str]) -> set[str]:
        """Which of ``helpers`` the template ``name`` (or a template it includes) calls."""
        return {helper for included in self._tree([name]) for helper in self._variables(included) & helpers}

    def _source(self, name: str) -> str:
        return self.env.loader.get_source(self.env, name)[0]  # type: ignore[union-attr]

    def _variables(self, name: str) -> set[str]:
        """The variables the template ``name`` reads (its own text, not its includes)."""
        from jinja2 import meta as jinja_meta

        return jinja_meta.find_undeclared_variables(self.env.parse(self._source(name)))

    def _includes(self, name: str) -> list[str | None]:
        """The templates ``name`` includes, extends or imports (None: a computed name)."""
        from jinja2 import meta as jinja_meta

        return list(jinja_meta.find_referenced_templates(self.env.parse(self._source(name))))

    def _folder_middleware(self, directory: str) -> Any:
        module = self._module(directory, "middleware.py")
        source = self.rel(os.path.join(directory, "middleware.py"))
        fn = getattr(module, "middleware", None)
        if fn is None or not inspect.iscoroutinefunction(fn) or positional_arity(fn) != 3:
            raise FileRouteError(f"{source} must define 'async def middleware(req, res, next)'")
        matcher = getattr(module, "matcher", None)
        return FolderMiddleware(fn, matcher, source)

    def _add_page(self, folder: Folder, names: set[str], tpl: Callable[[str], str]) -> None:
        module = self._module(folder.directory, "page.py") if "page.py" in names else None
        template = tpl("page.html") if "page.html" in names else None
        source = f"{folder.rel}/page.py" if module is not None else f"{folder.rel}/page.html"
        if template and module is not None and getattr(module, "page", None):
            raise FileRouteError(
                f"{folder.rel}/page.py defines page() and {folder.rel}/page.html exists:"
                " keep one way to render the page"
            )
        if template:
            self._compile(template)
        mode, revalidate = page_mode(module)
        chain = folder.chain()
        layouts = [f.layout for f in chain if f.layout is not None]
        dynamic_layouts = [layout for layout in layouts if layout.dynamic]
        if dynamic_layouts:
            check_layout_mode(module, source, dynamic_layouts[-1])
            mode, revalidate = "dynamic", None
        if mode != "dynamic":
            self._check_cacheable(template, chain, source, mode)
            self._check_cached_code(module, chain, source, MODE_NAMES[mode] + " page", "dynamic = True in page.py")
        try:
            actions = actions_of(module, source)
        except TypeError as exc:
            raise FileRouteError(str(exc)) from None
        route_assets = self.assets.route_assets([f.directory for f in chain], folder.directory)
        self._note_secret_use(source, [template] if template else [], layouts, actions)
        templates = ([(template, f"{folder.rel}/page.html")] if template else []) + [(lay.template, lay.source) for lay in layouts]
        tree = self._tree([name for name, _ in templates])
        holes = [self.regions.holes[hid] for name in tree for hid in self._holes_of(name)]
        if mode != "dynamic":
            self._check_holes(holes, source)
        loading = next((f.loading for f in reversed(chain) if f.loading is not None), None)
        self.loading.page(folder)
        # a dynamic page whose templates read ``auth`` is per visitor (reads of req.cookies,
        # req.auth... in code and templates mark the request as they happen)
        reads_auth = mode == "dynamic" and any(v == "auth" for name, _ in templates for v, _ in template_reads(self.env, name))
        page_class = PageEndpoint if self.i18n is None else LocalizedPage
        page = page_class(
            source=source,
            module=module,
            template=self.env.get_template(template) if template else None,
            layouts=[self._layout_plan(layout) for layout in layouts],
            actions=actions,
            assets=_join_tags(self.assets.tags(route_assets), self.loading_tag),
            finish=FINISH if mode == "dynamic" else None,
            per_visitor=reads_auth,
            loading=self._static_html(loading) if loading is not None and mode == "dynamic" else None,
            defers=any(self._uses_defer(name) for name in tree),
            hole_ids=frozenset(h.id for h in holes) if mode != "dynamic" else frozenset(),
            hole_template=self.regions.hole_template,
            hole_reads=self.regions.hole_reads,
            failure=self._region_failure(chain),
            uses=self._uses(tree),
        )
        if isinstance(page, LocalizedPage):
            page.base_url = (getattr(self.app, "base_url", None) or "").rstrip("/")
        guarded = requires_auth(module, layouts)
        endpoint: Any = page
        if mode != "dynamic":
            endpoint = CachedEndpoint(
                page,
                cache=self.cache,
                app=self.app,
                revalidate=revalidate,
                static_params=getattr(module, "static_params", None),
                source=source,
                shared=not guarded,  # behind sign-in: no CDN may keep it
                finish=HoleFinish(CACHED_FINISH, page.hole_renderer, None if self._holes_set_cookies(holes) else page.hole_filler) if page.hole_ids else CACHED_FINISH,
            )
        middleware: list[Any] = [mw for f in chain for mw in f.middleware]
        if guarded:
            middleware.insert(0, AuthGuard(api=False))
        info = {
            "layouts": [layout.source for layout in layouts],
            "assets": [self.rel(path) for path in route_assets],
            "cache": cache_info(  # why: explain
                module, source, self.env, templates, [(lay.module, lay.code) for lay in dynamic_layouts]
            ),
        }
        if holes and mode != "dynamic":  # explain and routes show them
            info["cache"]["holes"] = hole_info(holes)
        definition = RouteDef(
            "GET",
            folder.pattern,
            (*middleware, endpoint),
            {},
            f"{os.path.join(self.root, source)}:1",
            mode,  # static, isr (nexpress routes shows "isr 60s": Route.display) or dynamic
            source,
            info=info,
        )
        self.routes.append(definition)
        if actions is not None:
            first = min(a.line for a in actions.actions.values())
            self.routes.append(
                RouteDef(
                    "POST",
                    folder.pattern,
                    (*middleware, ActionEndpoint(page, actions)),
                    {},
                    f"{os.path.join(self.root, source)}:{first}",
                    "action",
                    f"{source} {actions.describe()}",
                    info={**info, "actions": {a.name: f"{source}:{a.line}" for a in actions.actions.values()}},
                )
            )

    # --- streaming: loading.html, {% defer %}, {% dynamic %} -----------------------------------

    def _tree(self, names: list[str]) -> list[str]:
        """``names`` and every template they include, each once."""
        seen: list[str] = []
        todo = list(names)
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.append(name)
            todo += [included for included in self._includes(name) if included is not None]
        return seen

    def _uses_defer(self, name: str) -> bool:
        from .regions import has_tag

        return has_tag(self._source(name), "defer")

    def _holes_of(self, name: str) -> list[str]:
        """The ids of the ``{% dynamic %}`` holes in one template (its own text)."""
        self.env.get_template(name)  # parsed by its name: its holes are recorded
        return self.regions.hole_ids.get(name, [])

    def _check_holes(self, holes: list[Any], source: str) -> None:
        """A hole of a cached page is rendered alone, per request: it may read only
        what every request has (not the page's data, rendered once for everyone)."""
        from jinja2 import meta as jinja_meta

        from .regions import HOLE_NAMES

        allowed = HOLE_NAMES | set(self.env.globals)
        for hole in holes:
            try:
                tree = self.env.parse(hole.source)
            except Exception as exc:
                raise FileRouteError(f"app/{hole.template}:{hole.line}: the {{% dynamic %}} block does not parse alone: {exc}") from None
            extra = sorted(jinja_meta.find_undeclared_variables(tree) - allowed)
            if extra:
                raise FileRouteError(
                    f"app/{hole.template}:{hole.line}: the {{% dynamic %}} block reads {extra[0]!r}, but {source} is"
                    f" cached and its holes are rendered alone for each request: they can read"
                    f" {', '.join(sorted(HOLE_NAMES))} and the template globals, not the page's data."
                    " Compute it in the hole from req/auth, or render the page per request (dynamic = True)."
                )

    def _holes_set_cookies(self, holes: list[Any]) -> bool:
        """Does a hole call ``csrf()``/``action()`` (which may set the CSRF cookie)?"""
        from jinja2 import meta as jinja_meta

        return any(jinja_meta.find_undeclared_variables(self.env.parse(h.source)) & _SECRET_HELPERS for h in holes)

    def _static_html(self, name: str) -> str | None:
        """A template that reads nothing per request (loading.html), rendered once."""
        try:
            return self.env.get_template(name).render({})
        except Exception as exc:
            raise FileRouteError(f"app/{name}: renders once at start-up with no variables (asset() only): {exc}") from None

    def _region_failure(self, chain: list[Folder]) -> Any:
        """What a streamed region that failed shows: the nearest error.html (or
        not-found.html for a 404) of the page's folders, alone (its layouts are out)."""
        error = next((f.error for f in reversed(chain) if f.error is not None), None)
        missing = next((f.not_found for f in reversed(chain) if f.not_found is not None), None)
        if error is None and missing is None:
            return None
        env = self.env

        def failure(req: Request, exc: BaseException) -> str:
            from ..http.errors import HTTPError

            status = exc.status if isinstance(exc, HTTPError) else 500
            title = "Not Found" if status == 404 else "Internal Server Error" if status >= 500 else "Error"
            detail = exc.detail if isinstance(exc, HTTPError) and exc.detail else ""
            name = missing if status == 404 and missing is not None else error
            if name is None:
                return f'<p role="alert">{status} {title}</p>'
            page_error = PageError(status, title, detail or "")
            context = {**base_context(req), "error": page_error, "status": status, "title": title, "detail": page_error.detail, "trace": None}
            try:
                return env.get_template(name).render(context)
            except Exception:
                return f'<p role="alert">{status} {title}</p>'

        return failure

    def _uses(self, tree: list[str]) -> frozenset[str]:
        """Which of the helpers a page's context adds only on use the templates of its
        ``tree`` (:meth:`_tree`) name: globals such as ``image`` included, which
        ``find_undeclared_variables`` leaves out."""
        import jinja2

        names = {node.name for name in tree for node in self.env.parse(self._source(name)).find_all(jinja2.nodes.Name)}
        return frozenset(names & _ON_USE_HELPERS)

    def _note_secret_use(self, source: str, templates: list[str], layouts: list[Layout], actions: Any) -> None:
        """Remember a page whose templates call ``csrf()``/``action()`` or that has
        actions: their tokens and ids are keyed with the app secret."""
        used: set[str] = set()
        for name in templates + [layout.template for layout in layouts]:
            used |= self._helpers_used(name, _SECRET_HELPERS)
        if used:
            calls = " and ".join(f"{helper}()" for helper in sorted(used))
            self.secret_users.append(f"{source} renders {calls}")
        if actions is not None:
            self.secret_users.append(f"{source} defines @action functions")

    def _layout_plan(self, layout: Layout) -> LayoutPlan:
        has_holes = any(self._holes_of(name) for name in self._tree([layout.template]))
        constant = None if has_holes else constant_layout(
            self.env, layout.template, layout.module, lambda name: self.is_constant(name, allowed={"children", "asset"})
        )
        template = self.env.get_template(layout.template)
        lid = layout_id(layout.source)
        if constant is None:
            return LayoutPlan(layout.source, layout.module, template, None, lid, by_path=self._by_path(layout))
        shell = shell_hash(*constant)
        # the markers client navigation needs, around the page's place, once
        marked = (constant[0] + open_marker(lid, shell), close_marker(lid) + constant[1])
        return LayoutPlan(layout.source, layout.module, template, marked, lid, shell)

    def _by_path(self, layout: Layout) -> bool:
        """A layout rendered once per path and query (``LayoutPlan.by_path``): no
        ``data()``, and its templates read nothing but ``children``, ``asset`` and the
        path helpers and ``csrf()`` (a template it includes reads nothing). Not in dev,
        where a template may change between requests."""
        if self.debug or (layout.module is not None and hasattr(layout.module, "data")):
            return False
        return self.is_constant(layout.template, allowed={"children", "asset", "csrf", "is_current", "with_query"})

    def _check_cacheable(self, template: str | None, chain: list[Folder], source: str, mode: str) -> None:
        """A static or ISR page must not read per-visitor data: it would be cached."""
        names = [(template, None)] if template else []
        names += [(f.layout.template, f.layout) for f in chain if f.layout is not None]
        from jinja2 import meta as jinja_meta

        from .regions import without_holes

        for name, layout in names:
            shell = jinja_meta.find_undeclared_variables(self.env.parse(without_holes(self._source(name))))
            used = shell & set(_REQUEST_VARIABLES)
            if used:
                variable = sorted(used)[0]
                also = "" if layout is None else f", or every page below the layout (dynamic = True in {layout.code})"
                badge = (
                    f". Or keep the page cached and put what reads {variable!r} in a per-visitor hole:"
                    " {% dynamic %}...{% fallback %}...{% enddynamic %} (docs/streaming.md)"
                )
                raise FileRouteError(
                    f"app/{name} uses {variable!r}, but {source} is {MODE_NAMES[mode]} page, rendered once"
                    f" and cached for every visitor. Mark the page dynamic (dynamic = True in"
                    f" page.py){also}, or stop using {variable!r}{badge}."
                )

    def _check_cached_code(self, module: Any, chain: list[Folder], source: str, what: str, fix: str) -> None:
        """The page's and its layouts' functions run once for every visitor: reading
        the query, headers, cookies or the session there is a start-up error."""
        modules = [module] + [f.layout.module for f in chain if f.layout is not None]
        for owner in modules:
            for name in ("data", "page", "metadata", "GET"):
                fn = getattr(owner, name, None) if owner is not None else None
                if not callable(fn):
                    continue
                reads = request_reads(fn)
                if reads:
                    first = reads[0]
                    raise FileRouteError(
                        f"{self.rel(first.filename)}:{first.line}: {name}() reads req.{first.attribute}, but"
                        f" {source} is {what}, rendered once with a bare request (path and params"
                        f" only) and cached for every visitor. Make it dynamic ({fix}) or stop reading"
                        f" req.{first.attribute} there."
                    )

    def _add_api(self, folder: Folder) -> None:
        module = self._module(folder.directory, "route.py")
        source = f"{folder.rel}/route.py"
        middleware: list[Any] = [mw for f in folder.chain() for mw in f.middleware]
        if getattr(module, "auth", False):
            middleware.insert(0, AuthGuard(api=True))
        revalidate = getattr(module, "revalidate", None)
        found = False
        for method in METHODS:
            handler = getattr(module, method, None)
            if handler is None:
                continue
            found = True
            line = getattr(getattr(handler, "__code__", None), "co_firstlineno", 1)
            try:  # typed body/query parameters, as for app.get(): decided now
                plan = plan_for(handler)
            except TypeError as exc:
                raise FileRouteError(f"{source}: {exc}") from None
            if revalidate and method == "GET":
                self._check_cached_code(module, [], source, "a cached API route (revalidate)", "remove revalidate")
                # the cached endpoint runs the plan itself
                render = plan.endpoint if plan is not None else handler
                handler = CachedEndpoint(render, cache=self.cache, app=self.app, revalidate=revalidate, api=True, source=source, shared=not getattr(module, "auth", False))
                plan = None
            self.routes.append(
                RouteDef(method, folder.pattern, (*middleware, handler), {}, f"{os.path.join(self.root, source)}:{line}", "api", source, plan=plan)
            )
        if not found:
            raise FileRouteError(f"{source} defines none of {', '.join(METHODS[:5])}")

    def _add_special(self, folder: Folder, filename: str, url: str) -> None:
        module = self._module(folder.directory, filename)
        source = f"{folder.rel}/{filename}"
        function = filename[:-3]
        fn = getattr(module, function, None)
        if fn is None:
            raise FileRouteError(f"{source} must define def {function}(req)")
        expand = localized_sitemap(self.i18n) if self.i18n is not None and function == "sitemap" else None
        self.routes.append(
            RouteDef("GET", url, (SpecialEndpoint(fn, function, expand),), {}, f"{os.path.join(self.root, source)}:1", "dynamic", source)
        )

    # --- error pages ----------------------------------------------------------------

    def nearest(self, raw_path: str, attribute: str) -> tuple[Folder, str] | None:
        """The deepest folder whose URL prefixes ``raw_path`` and has the template."""
        best: tuple[int, Folder, str] | None = None
        for folder in self.folders:
            template = getattr(folder, attribute)
            if template is None:
                continue
            if _folder_prefix_regex(folder.pattern).match(raw_path):
                depth = folder.rel.count("/")
                if best is None or depth > best[0]:
                    best = (depth, folder, template)
        return None if best is None else (best[1], best[2])

    async def error_page(self, status: int, title: str, detail: str | None, req: Request, res: Response | None = None) -> str | None:
        """The nearest ``not-found.html`` (404) or ``error.html`` for ``req``, inside its
        layouts, each with its ``data()``; None when there is none. With ``res``,
        ``csrf()`` works there too (a layout's sign-out form)."""
        path = unquote(req.raw_path)
        if self.i18n is not None:  # /fr/blog/x: the error pages of /blog/x
            path = split_locale(self.i18n, path)[1]
        found = self.nearest(path, "not_found" if status == 404 else "error")
        if found is None:
            return None
        if self.i18n is None:
            return await self._error_page(found, status, title, detail, req, res)
        token = use_locale(req.locale)
        try:
            return await self._error_page(found, status, title, detail, req, res)
        finally:
            reset_locale(token)

    async def _error_page(
        self, found: tuple[Folder, str], status: int, title: str, detail: str | None, req: Request, res: Response | None
    ) -> str:
        folder, template = found
        error = PageError(status, title, detail or "")
        context = {**base_context(req), "error": error, "status": status, "title": title, "detail": error.detail, "trace": None}
        if res is not None:
            context["csrf"] = Helpers(req, res, None).csrf
        if self.i18n is not None:
            context.update(locale=req.locale, current_path=req.raw_path)
        body = self.env.get_template(template).render(context)
        for layout_folder in reversed(folder.chain()):
            layout = layout_folder.layout
            if layout is None:
                continue
            data = await layout_data_for_error(layout, req)
            try:
                body = self.env.get_template(layout.template).render({**context, **data, "children": Markup(body)})
            except Exception:  # a layout that cannot render here: show the page alone
                continue
        document = meta.inject_head(body, meta.head_tags({"title": f"{status} {title}"}))
        return inject_tail(document, client.script_tag())


@functools.cache
def _folder_prefix_regex(pattern: str) -> re.Pattern[str]:
    """Matches the decoded paths at or below a folder's URL pattern: ``/blog`` and
    ``/blog/x`` for ``/blog``; ``/invoices/7/edit`` for ``/invoices/:id/edit``, so a
    ``not-found.html`` beside a dynamic segment's page renders its 404s."""
    if pattern == "/":
        return re.compile(".*", re.DOTALL)
    whole = pattern_regex(pattern).pattern  # "^(?:...)$"
    return re.compile(whole[:-1] + "(?:/.*)?$", re.DOTALL)


def _join_tags(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def _images_off(src: str, *args: Any, **options: Any) -> Markup:
    """``image()`` in an app without ``App(images=...)``: an error naming the setting."""
    raise ValueError(f"image({src!r}): images are off; turn them on with App(images={{}}) (docs/images.md)")

