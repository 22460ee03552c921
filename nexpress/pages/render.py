"""Rendering pages: ``data(req)`` -> template -> layouts (inside-out) -> metadata.

Every rendering mode renders the same way here; the cache decides how often.
What does not depend on the request is decided when the page is discovered:
templates compiled (with their globals flattened into one dict), layouts that read
nothing but ``children`` pre-rendered into two strings (all of them joined into one
frame), static metadata turned into ``<head>`` tags once, whether ``data()`` is a
coroutine function. Per request a page builds one context dict and renders its
template into it.

A page with a ``loading.html`` above it, a ``{% defer %}`` or a ``{% dynamic %}`` in
its templates (``PageEndpoint.streams``, decided at discovery) renders through
:meth:`PageEndpoint.render_streamed` instead (nexpress.pages.streaming); the others
never look at it.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass
from html import escape as html_escape
from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from ..http import csrf
from ..http._bounded import BoundedDict
from ..http.calls import call, is_async_callable
from ..http.errors import HTTPError
from ..http.response import Response
from ..http.templating import HEAD_TAGS
from ..i18n.context import use_locale
from ..i18n.urls import alternates as locale_alternates
from ..routing.endpoint import Endpoint
from . import client, links
from . import metadata as meta
from .forms import EMPTY_FORM, NO_ERRORS, SLOT_PREFIX, csrf_field, slot_marker
from .navigation import PageFinish, close_marker, open_marker, shell_hash
from .streaming import (
    HOLES_HEADER,
    HOLES_KEY,
    LOADING_DELAY,
    REGIONS_KEY,
    HoleMarks,
    Regions,
    resolve_all,
    shell_text,
    split_tail,
    start_values,
    stream_regions,
    title_script,
    waits_for_all,
)

if TYPE_CHECKING:
    import jinja2

    from ..http.request import Request
    from .actions import ActionSet
    from .regions import HoleReads

STREAM_THRESHOLD = 256 * 1024
_STREAM_CHUNK = 64 * 1024
SLOT = "\x00nexpress-children\x00"


class LazyQuery:
    """``query`` in templates: parsed only if a template reads it."""

    __slots__ = ("_req",)

    def __init__(self, req: Request) -> None:
        self._req = req

    def __getattr__(self, name: str) -> Any:
        return getattr(self._req.query, name)

    def __getitem__(self, key: str) -> str:
        return self._req.query[key]

    def __contains__(self, key: object) -> bool:
        return key in self._req.query

    def __iter__(self):
        return iter(self._req.query)

    def __len__(self) -> int:
        return len(self._req.query)

    def __str__(self) -> str:
        return str(dict(self._req.query.items()))


def base_context(req: Request) -> dict[str, Any]:
    """What every page and layout template sees. Handing ``auth`` to the templates is
    not a per-visitor read by itself (a template that reads it marks the page: see
    ``PageEndpoint.per_visitor``), so the request's mark is left as it was."""
    marked = req.per_visitor
    link = LinkHelpers(req)
    context = {
        "req": req, "params": req.params, "query": LazyQuery(req), "auth": req.auth, **ACTION_DEFAULTS,
        "is_current": link.is_current, "with_query": link.with_query,
    }  # fmt: skip
    req.per_visitor = marked
    return context


class LinkHelpers:
    """``is_current(href, prefix=False)`` and ``with_query(**changes)`` for one render
    (nexpress.pages.links has the rule)."""

    __slots__ = ("req",)

    def __init__(self, req: Request) -> None:
        self.req = req

    def is_current(self, href: str, prefix: bool = False) -> bool:
        return links.is_current(self.req.raw_path, self.req.query_string, href, prefix)

    def with_query(self, **changes: object) -> str:
        return links.with_query(self.req.raw_path, self.req.query_string, changes)


ACTION_DEFAULTS: dict[str, Any] = {
    "action_result": None,
    "action_error": None,
    "form": EMPTY_FORM,
    "form_errors": NO_ERRORS,
}
"""What a server action sets (nexpress.pages.actions); defined on every render so
templates can test them (``{% if action_result %}``) whatever happened."""


class Helpers(LinkHelpers):
    """``csrf()``, ``action(name)`` and the link helpers for one render of one page."""

    __slots__ = ("actions", "res")

    def __init__(self, req: Request, res: Response, actions: ActionSet | None) -> None:
        self.req = req
        self.res = res
        self.actions = actions

    def csrf(self) -> Markup:
        return csrf_field(self.req, self.res)

    def action(self, name: str) -> str:
        if self.actions is None:
            raise LookupError(f"action({name!r}): this page's page.py defines no @action functions")
        return self.actions.url(name, csrf_secret(self.req))


def csrf_secret(req: Request) -> str:
    return csrf.secret_for(req.ctx)


async def call_data(module: Any, req: Request, where: str) -> dict[str, Any] | Response:
    """``module.data(req)``: a dict for the template, or a Response to send instead
    (``return redirect(...)``)."""
    fn = getattr(module, "data", None) if module is not None else None
    if fn is None:
        return {}
    return _data_result(await call(fn, req), where)


def _data_result(result: Any, where: str) -> dict[str, Any] | Response:
    if result is None:
        return {}
    if isinstance(result, (dict, Response)):
        return result
    raise TypeError(f"{where}: data(req) must return a dict (or a Response such as redirect(...)), not {type(result).__name__}")


def caller(fn: Callable[..., Any] | None) -> Callable[..., Any] | None:
    """``await caller(fn)(*args)`` does what ``await call(fn, *args)`` does, with the
    sync-or-async question answered now, at start-up: a coroutine function is
    returned as it is (called directly), anything else goes through :func:`call`."""
    if fn is None or is_async_callable(fn):
        return fn
    return functools.partial(call, fn)


def _metadata_of(module: Any) -> tuple[Any, Callable[..., Any] | None]:
    """A module's ``metadata``: (the value, its caller when it is a function)."""
    value = getattr(module, "metadata", None) if module is not None else None
    return value, caller(value) if callable(value) else None


async def _metadata(value: Any, call_it: Callable[..., Any] | None, req: Request, data: dict[str, Any]) -> dict[str, Any] | Response:
    """A module's metadata for this request: {} without one, the dict (a copy), or the
    Response its function returned (``return redirect(...)``)."""
    if value is None:
        return {}
    if call_it is not None:
        value = await call_it(req, data)
    if isinstance(value, Response):
        return value
    return dict(value or {})


class TemplateVariableError(NameError):
    """A template used a variable nobody passed (an error in dev; empty in production)."""


def _is_undefined(exc: Exception) -> bool:
    """An undefined template variable (StrictUndefined in dev)."""
    import jinja2  # loaded: the template is Jinja's (nexpress.pages imports it on use)

    return isinstance(exc, jinja2.UndefinedError)


def render_template(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render, naming the template when it uses an undefined variable (dev)."""
    try:
        return template.render(context)
    except Exception as exc:
        if not _is_undefined(exc):
            raise
        known = ", ".join(sorted(k for k in context if not k.startswith("_")))
        raise TemplateVariableError(
            f"app/{template.name}: {exc.message}; the template can use: {known}"
        ) from exc


class CompiledTemplate:
    """A page's or layout's template, rendered into one context dict built per request.

    ``jinja2.Template.render(context)`` copies the context, merges the copy into a
    new dict with the template's globals (a ``ChainMap``, iterated in Python) and
    lists that ChainMap's keys again for the ``Context``: for a page of a dozen rows
    that was a fifth of the whole request. Here the globals are flattened once, at
    start-up (``globals``), the caller builds the context on top of them in one dict
    (:meth:`context`), and :meth:`render` hands that dict to the template as it is.
    The output, the undefined-variable behaviour and the tracebacks (rewritten to
    template lines by ``Environment.handle_exception``) are those of ``render``."""

    __slots__ = ("blocks", "context_class", "environment", "globals", "name", "root", "template")

    def __init__(self, template: jinja2.Template) -> None:
        self.template = template
        self.environment = template.environment
        self.globals: dict[str, Any] = dict(template.globals)
        self.name = template.name
        self.blocks = template.blocks
        self.root = template.root_render_func
        self.context_class = self.environment.context_class

    def render(self, parent: dict[str, Any]) -> str:
        """Render with ``parent`` as the template's variables: a dict built for this
        render that already holds ``globals`` under the caller's values (Jinja2 only
        reads it). An undefined variable in dev names the template and what it can use."""
        environment = self.environment
        try:
            try:
                context = self.context_class(environment, parent, self.name, self.blocks, globals=self.globals)
                return environment.concat(self.root(context))  # type: ignore[attr-defined]
            except Exception:
                environment.handle_exception()  # raises it again, with the template's lines
                raise
        except Exception as exc:
            if not _is_undefined(exc):
                raise
            # what render_template lists: the variables passed, not the globals
            passed = (k for k, v in parent.items() if k not in self.globals or self.globals[k] is not v)
            known = ", ".join(sorted(k for k in passed if not k.startswith("_")))
            raise TemplateVariableError(f"app/{self.name}: {exc.message}; the template can use: {known}") from exc


_HOLE_VALUES: dict[str, Callable[[Request], Any]] = {
    "req": lambda req: req,
    "params": lambda req: req.params,
    "query": LazyQuery,
    "auth": lambda req: req.auth,
}
"""What a hole may read of the request (nexpress.pages.regions.HOLE_NAMES, without
the helpers that need a Response), each built only for a hole that reads it."""


class HoleFiller:
    """One ``{% dynamic %}`` hole compiled for the memory-cache fast path: its template
    with only the globals its source reads, and only the request values it reads
    (``req``, ``params``, ``query``, ``auth``), decided once when the cached entry is
    prepared. A request then builds a context of a few names and renders the hole
    (in the environment's :class:`~nexpress.http._jinja.Context`): no Response, no page context,
    no template lookup. A hole that includes or imports
    a template gets every global (the included template sees the context it is given)."""

    __slots__ = ("compiled", "values")

    def __init__(self, template: jinja2.Template, reads: HoleReads) -> None:
        self.compiled = compiled = CompiledTemplate(template)
        every = {**compiled.globals, **ACTION_DEFAULTS}
        wanted = _HOLE_VALUES.keys() if reads.whole_context else reads.names
        compiled.globals = every if reads.whole_context else {k: v for k, v in every.items() if k in reads.names}
        self.values = tuple((name, get) for name, get in _HOLE_VALUES.items() if name in wanted)

    def __call__(self, req: Request) -> str:
        compiled = self.compiled
        parent = {**compiled.globals}
        for name, get in self.values:
            parent[name] = get(req)
        return compiled.render(parent)


def _empty_hole(req: Request) -> str:
    return ""


@dataclass(slots=True)
class LayoutPlan:
    """One layout around a page: its compiled template, its ``layout.py`` module, and
    when it reads nothing but ``children``, its output pre-rendered around a slot."""

    source: str
    module: Any
    template: jinja2.Template
    constant: tuple[str, str] | None
    id: str = ""  # nexpress.pages.navigation.layout_id(source)
    shell: str | None = None  # a constant layout's shell hash (its markers are in ``constant``)
    by_path: bool = False
    """It reads nothing of the request but its path and query (``is_current``,
    ``with_query``) and the visitor's CSRF token (``csrf()``), and has no ``data()``:
    rendered once per path and query (:meth:`PageEndpoint._wrap_by_path`), the token put in per request."""


def freeze_params(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


class PageEndpoint(Endpoint):
    """One page of ``app/``: ``page.html`` with ``page.py``'s ``data()``, or
    ``page.py``'s ``page(req)``, wrapped in its layouts, with metadata and route
    assets in ``<head>`` and client.js before ``</body>``.

    ``finish`` is set when the page answers requests itself (a dynamic page): the
    last step of the response (:class:`~nexpress.pages.navigation.PageFinish`).
    A cached page's endpoint renders for the cache and leaves that to it."""

    response_kind = "html"

    def __init__(
        self,
        *,
        source: str,
        module: Any,
        template: jinja2.Template | None,
        layouts: list[LayoutPlan],
        actions: ActionSet | None = None,
        assets: str = "",
        finish: PageFinish | None = None,
        per_visitor: bool = False,
        loading: str | None = None,
        defers: bool = False,
        hole_ids: frozenset[str] = frozenset(),
        hole_template: Callable[[str], jinja2.Template] | None = None,
        hole_reads: Callable[[str], HoleReads] | None = None,
        failure: Callable[[Request, BaseException], str] | None = None,
        uses: frozenset[str] = frozenset(),
    ) -> None:
        self.source = source
        # a template of this page or its layouts reads ``auth``: every render is per visitor
        self.per_visitor = per_visitor
        # what the templates call, read at discovery: the link helpers and the head
        # list (image()'s preload) are put in the context only for pages that use them
        self.link_helpers = bool(uses & {"is_current", "with_query"})
        self.collects_head = "image" in uses
        self.module = module
        self.template = template
        self.page_fn = getattr(module, "page", None) if module is not None else None
        self.dynamic_params = getattr(module, "dynamic_params", True) if module is not None else True
        self.static_params = getattr(module, "static_params", None) if module is not None else None
        self._allowed: set[tuple] | None = None
        self.layouts = layouts
        self.actions = actions
        self.finish = finish
        self.assets = assets
        self.head, self.head_in_prefix = _static_head(layouts, module, assets)
        self.tail, self.tail_in_suffix = _static_tail(layouts, client.script_tag())
        self.__qualname__ = f"page ({source})"
        # --- streaming (nexpress.pages.streaming), decided here: other pages never look ---
        self.loading = loading
        """The nearest loading.html, rendered (dynamic pages: flushed while data() runs)."""
        self.loading_delay = float(getattr(module, "loading_delay", LOADING_DELAY)) if module is not None else LOADING_DELAY
        self.hole_ids = hole_ids
        self.hole_template = hole_template
        self.hole_reads = hole_reads
        self.compiled_holes: dict[str, CompiledTemplate] = {}
        self.failure = failure
        self.streams = loading is not None or defers or bool(hole_ids)
        # --- decided once: what every request would otherwise work out again ---
        self.data_call = caller(getattr(module, "data", None) if module is not None else None)
        self.page_call = caller(self.page_fn)
        # the layouts rendered per request, with their data() (None: no data())
        self.layout_calls = [
            (index, layout, caller(getattr(layout.module, "data", None) if layout.module is not None else None))
            for index, layout in enumerate(layouts)
            if layout.constant is None
        ]
        self.metadata = [_metadata_of(layout.module) for layout in layouts] + [_metadata_of(module)]
        """Each layout's ``metadata`` and the page's, for a page whose metadata is computed per request."""
        self.compiled = CompiledTemplate(template) if template is not None else None
        self.compiled_layouts = [CompiledTemplate(layout.template) for layout in layouts]
        self.layout_memos: list[BoundedDict[tuple[str, bytes], LayoutMemoEntry] | None] = [
            BoundedDict(LAYOUT_MEMO_MAX) if layout.by_path and layout.constant is None else None for layout in layouts
        ]
        """Per by_path layout: its frame by (path, query string) (:meth:`_wrap_by_path`)."""
        self.checks_params = not self.dynamic_params and self.static_params is not None
        # every layout pre-rendered (markers, head and client.js included): the page's
        # whole frame as two strings, joined around the body in one copy
        self.frame: tuple[str, str] | None = None
        if all(layout.constant is not None for layout in layouts):
            prefix = "".join(layout.constant[0] for layout in layouts)  # type: ignore[index]
            suffix = "".join(layout.constant[1] for layout in reversed(layouts))  # type: ignore[index]
            self.frame = (prefix, suffix)
        self.fixed = {**(self.compiled.globals if self.compiled is not None else {}), **ACTION_DEFAULTS}
        """The page template's globals and the server-action defaults: what every
        render's context starts from."""

    async def check_params(self, req: Request) -> None:
        """``dynamic_params = False``: only the params ``static_params()`` lists exist."""
        if self.dynamic_params or self.static_params is None or not req.params:
            return
        if self._allowed is None:
            entries = await call(self.static_params)
            self._allowed = {freeze_params(entry) for entry in entries or ()}
        if freeze_params(req.params) not in self._allowed:
            raise HTTPError(404, "This page was not generated for these parameters")

    async def __call__(self, req: Request, res: Response) -> Any:
        result = await self.render(req, res)
        if self.finish is None or isinstance(result, Response):
            return result
        if result is not None:
            res.html(result)
        await self.finish.finish(req, res)  # a streamed page (None) gets its Vary header
        return None

    def context(self, req: Request, res: Response, extra: dict[str, Any] | None) -> dict[str, Any]:
        """What the page's and its layouts' templates see (:func:`base_context` and the
        ``csrf``/``action`` helpers, ``extra`` over them), on top of ``fixed``, in one
        dict. Handing ``auth`` over does not mark the request (see :func:`base_context`)."""
        helpers = Helpers(req, res, self.actions)
        marked = req.per_visitor
        context = {
            **self.fixed,
            "req": req,
            "params": req.params,
            "query": LazyQuery(req),
            "auth": req.auth,
            "csrf": helpers.csrf,
            "action": helpers.action,
        }
        if self.link_helpers:
            context["is_current"] = helpers.is_current
            context["with_query"] = helpers.with_query
        if self.collects_head:
            context[HEAD_TAGS] = []
        req.per_visitor = marked or self.per_visitor
        if extra:
            context.update(extra)
        return context

    async def render(self, req: Request, res: Response, extra: dict[str, Any] | None = None) -> Any:
        """The page as an HTML document (str), a Response it chose to send instead,
        or None when the document was streamed into ``res``. ``extra``: what a
        server action adds to the context (``action_result``, ``form``...)."""
        if self.streams:  # loading.html, {% defer %} or {% dynamic %}: decided at start-up
            return await self.render_streamed(req, res, extra)
        if self.checks_params:
            await self.check_params(req)
        context = self.context(req, res, extra)
        data_call = self.data_call  # page.py's data(req), inline: the hot path (see page_data)
        data = {} if data_call is None else await data_call(req)
        if data.__class__ is not dict:
            data = _data_result(data, self.source)
            if isinstance(data, Response):  # return redirect(...)
                return data
        document = await self.document(req, context, data)
        if document.__class__ is str and len(document) > STREAM_THRESHOLD:  # type: ignore[arg-type]
            res.stream(_chunks(document), media_type="html")  # type: ignore[arg-type]
            return None
        return document

    async def page_data(self, req: Request) -> dict[str, Any] | Response:
        """page.py's ``data(req)`` ({} without one), or the Response it returned."""
        data_call = self.data_call
        data = {} if data_call is None else await data_call(req)
        return data if data.__class__ is dict else _data_result(data, self.source)

    async def body(self, req: Request, context: dict[str, Any], data: dict[str, Any]) -> str | Response:
        """The page itself (page.html or page()), without its layouts."""
        if self.page_call is not None:
            body = await self.page_call(req)
            if isinstance(body, Response):
                return body
            if not isinstance(body, str):
                raise TypeError(f"{self.source}: page(req) must return str (HTML) or a Response")
            return body
        assert self.compiled is not None
        return self.compiled.render({**context, **data} if data else context)

    async def document(self, req: Request, context: dict[str, Any], data: dict[str, Any], body: str | None = None) -> str | Response:
        """The whole document: the page's body (``body``, else rendered from ``data``)
        in its layouts, with its head and client.js."""
        own_body = body is None  # else the page's data is not there yet: no page metadata()
        if body is None:
            found_body = await self.body(req, context, data)
            if isinstance(found_body, Response):
                return found_body
            body = found_body
        frame = self.frame
        if frame is not None:  # every layout pre-rendered: no layout data to read
            document: str | Response = frame[0] + body + frame[1]
            layout_data: dict[int, dict[str, Any]] = {}
        else:
            found = await self.layout_data(req)
            if isinstance(found, Response):
                return found
            layout_data = found
            if self.streams:  # a layout's data() may return awaitables for its {% defer %}s
                streaming = REGIONS_KEY in context
                for index, values in layout_data.items():
                    layout_data[index] = start_values(values) if streaming else await resolve_all(values)
            document = self.wrap(body, context, layout_data)
        if not self.head_in_prefix:
            document = await self.with_head(req, document, data, layout_data, page=own_body)
            if isinstance(document, Response):
                return document
        if self.collects_head and context[HEAD_TAGS]:  # what image(..., priority=True) asked for
            document = meta.inject_head(document, "\n".join(context[HEAD_TAGS]))
        if not self.tail_in_suffix:
            document = inject_tail(document, self.tail)
        return document

    async def render_streamed(self, req: Request, res: Response, extra: dict[str, Any] | None) -> Any:
        """A page that may stream (see nexpress.pages.streaming): in one piece for a
        render that cannot stream (cached, navigation fetch, crawler, action answer),
        else the layouts and fallbacks first and each region as it resolves."""
        if self.checks_params:
            await self.check_params(req)
        context = self.context(req, res, extra)
        if extra is not None or waits_for_all(req):
            marks = None
            if self.hole_ids and "nexpress.bare" in req.scope:  # the shell the cache stores
                marks = context[HOLES_KEY] = HoleMarks()
            data = await self.page_data(req)
            if isinstance(data, Response):
                return data
            document = await self.document(req, context, await resolve_all(data))
            if marks is not None and marks.used:
                res.set(HOLES_HEADER, marks.nonce)
            return document
        regions = Regions()
        context[REGIONS_KEY] = regions
        if self.loading is not None:
            task = asyncio.ensure_future(self.page_data(req))
            done, _ = await asyncio.wait({task}, timeout=self.loading_delay)
            if not done:
                return await self.stream_loading(req, res, context, task, regions)
            data = task.result()
        else:
            data = await self.page_data(req)
        if isinstance(data, Response):
            return data
        values = start_values(data)
        if values is not data:  # one turn of the loop: values at hand (cache hits) resolve now and render in place
            await asyncio.sleep(0)
        document = await self.document(req, context, values)
        if isinstance(document, Response) or not regions.pending:
            regions.cancel()
            return document
        first, tail = split_tail(document)
        res.stream(stream_regions(first, tail, regions, self.failure_for(req)), media_type="html")
        return None

    async def stream_loading(self, req: Request, res: Response, context: dict[str, Any], task: asyncio.Future[Any], regions: Regions) -> Any:
        """``data()`` is slow: the layouts around ``loading.html`` now, the page (a
        region of its own) when its data is there."""

        async def page() -> Any:
            data = await task
            if isinstance(data, Response):
                return data
            body = await self.body(req, context, start_values(data))
            if isinstance(body, Response):
                return body
            title = await self.page_title(req, data)
            return Markup(body) + Markup(title_script(title) if title is not None else "")

        placeholder = regions.defer(page(), Markup(self.loading or ""), _same)
        document = await self.document(req, context, {}, body=str(placeholder))  # str: Markup would escape the layouts
        if isinstance(document, Response):
            regions.cancel()
            return document
        first, tail = split_tail(document)
        res.stream(stream_regions(first, tail, regions, self.failure_for(req)), media_type="html")
        return None

    async def page_title(self, req: Request, data: dict[str, Any]) -> str | None:
        """The title a page's ``metadata()`` gives once its data is there (the first
        flush of a slow page had the layouts' title); None for static metadata."""
        value, call_it = self.metadata[-1]
        if call_it is None:
            return None
        found = await _metadata(value, call_it, req, data)
        if isinstance(found, Response):
            return None
        chain = [{} if callable(value) else dict(value or {}) for value, _ in self.metadata[:-1]]
        return meta.merge([*chain, found]).get("title")

    def failure_for(self, req: Request) -> Callable[[BaseException], str]:
        """What a failed region shows: the nearest error.html / not-found.html."""
        failure = self.failure
        if failure is None:
            return _no_error_page
        return functools.partial(failure, req)

    def hole_renderer(self, req: Request, res: Response | None) -> Callable[[str], str]:
        """Renders this page's holes for one request (nexpress.pages.streaming.HoleFinish).
        ``res`` None (the memory-cache fast path in dev, for holes that call neither
        ``csrf()`` nor ``action()``): the holes get what they may read without the helpers."""
        if res is not None:
            context = self.context(req, res, None)
        else:
            context = {"req": req, "params": req.params, "query": LazyQuery(req), "auth": req.auth}
        holes = self.hole_ids
        compiled = self.compiled_holes

        def render(hid: str) -> str:
            if hid not in holes or self.hole_template is None:
                return ""
            template = self.hole_template(hid)
            found = compiled.get(hid)
            if found is None or found.template is not template:  # dev: the template changed
                found = compiled[hid] = CompiledTemplate(template)
                found.globals.update(ACTION_DEFAULTS)  # what a hole's context starts from
            return found.render({**found.globals, **context})

        return render

    def hole_filler(self, hid: str) -> Callable[[Request], str]:
        """One hole of this page for the memory-cache fast path (holes that call neither
        ``csrf()`` nor ``action()``), compiled when the entry is prepared: a
        :class:`HoleFiller` (in dev, where a template may change between requests, the
        general renderer, which looks the template up on every request)."""
        if hid not in self.hole_ids or self.hole_template is None or self.hole_reads is None:
            return _empty_hole
        template = self.hole_template(hid)
        if not template.environment.auto_reload:
            return HoleFiller(template, self.hole_reads(hid))
        return lambda req: self.hole_renderer(req, None)(hid)

    async def layout_data(self, req: Request) -> dict[int, dict[str, Any]] | Response:
        """``data()`` of every layout that is not pre-rendered, by position."""
        found: dict[int, dict[str, Any]] = {}
        for index, layout, data_call in self.layout_calls:
            data = _data_result(await data_call(req), layout.source) if data_call is not None else {}
            if isinstance(data, Response):
                return data
            found[index] = data
        return found

    def wrap(self, body: str, context: dict[str, Any], layout_data: dict[int, dict[str, Any]]) -> str:
        """Put the page inside its layouts, innermost first, marking where the page
        goes in each (nexpress.pages.navigation) so client navigation can swap it.
        ``context``: the page's (see :meth:`context`), without its ``data()``."""
        for index in range(len(self.layouts) - 1, -1, -1):
            layout = self.layouts[index]
            if layout.constant is not None:  # markers included (FileRoutes._layout_plan)
                body = layout.constant[0] + body + layout.constant[1]
                continue
            memo = self.layout_memos[index]
            if memo is not None and HOLES_KEY not in context:  # not a shell for the cache
                body = self._wrap_by_path(memo, index, context, layout_data, body)
                continue
            frame = self._layout_frame(index, context, layout_data)
            body = frame[0] + body + frame[1] if frame is not None else self._layout_around(index, context, layout_data, body)
        return body

    def _wrap_by_path(
        self, memo: BoundedDict[tuple[str, bytes], LayoutMemoEntry], index: int, context: dict[str, Any],
        layout_data: dict[int, dict[str, Any]], body: str,
    ) -> str:  # fmt: skip
        """A :attr:`LayoutPlan.by_path` layout around ``body``: its frame rendered once
        per path and query string with ``csrf()`` writing its slot, the visitor's own
        field put in its place on every request."""
        req = context["req"]
        key = (req.raw_path, req.query_string)
        found = memo.get(key)
        if found is None:
            slot = _csrf_slot(req)
            frame = self._layout_frame(index, {**context, "csrf": slot}, layout_data)
            found = memo.put(key, (frame, str(slot()) if frame is not None and SLOT_TEXT in frame[0] + frame[1] else None))
        frame, slot_field = found
        if frame is None:  # children output other than once: rendered around the body
            return self._layout_around(index, context, layout_data, body)
        prefix, suffix = frame
        if slot_field is not None:
            field = str(context["csrf"]())
            prefix, suffix = prefix.replace(slot_field, field), suffix.replace(slot_field, field)
        return prefix + body + suffix

    def _layout_frame(self, index: int, context: dict[str, Any], layout_data: dict[int, dict[str, Any]]) -> tuple[str, str] | None:
        """One layout rendered around the page's place: (prefix with the opening
        marker, closing marker with suffix); None when the layout outputs its children
        other than once (no markers)."""
        layout = self.layouts[index]
        template = self.compiled_layouts[index]
        html = template.render({**template.globals, **context, **layout_data[index], "children": Markup(SLOT)})
        if html.count(SLOT) != 1:  # children output twice (or in a loop): no markers
            return None
        prefix, _, suffix = html.partition(SLOT)
        shell = shell_hash(shell_text(prefix), shell_text(suffix))  # holes: the same for everyone
        return prefix + open_marker(layout.id, shell), close_marker(layout.id) + suffix

    def _layout_around(self, index: int, context: dict[str, Any], layout_data: dict[int, dict[str, Any]], body: str) -> str:
        template = self.compiled_layouts[index]
        return template.render({**template.globals, **context, **layout_data[index], "children": Markup(body)})

    async def with_head(
        self, req: Request, body: str, data: dict[str, Any], layout_data: dict[int, dict[str, Any]], page: bool = True
    ) -> str | Response:
        """The document with its metadata (and route assets) in ``<head>``;
        ``page=False``: without the page's own metadata() (its data is not there yet)."""
        if self.head_in_prefix:
            return body
        if self.head is not None:
            return meta.inject_head(body, self.head)
        chain: list[dict[str, Any]] = []
        last = len(self.layouts)
        for index, (value, call_it) in enumerate(self.metadata):
            if index == last and not page and call_it is not None:
                continue
            found = await _metadata(value, call_it, req, data if index == last else layout_data.get(index, {}))
            if isinstance(found, Response):
                return found
            chain.append(found)
        return meta.inject_head(body, _join(meta.head_tags(meta.merge(chain)), self.assets))


def _same(html: Any) -> Any:
    return html


def _no_error_page(exc: BaseException) -> str:
    return '<p role="alert">This part of the page could not be shown.</p>'


class LocalizedPage(PageEndpoint):
    """A page of an app with ``App(i18n=...)`` (chosen at start-up, so other apps pay
    nothing): rendered in the request's locale (``_()`` and ``format_*`` in
    ``data()``, ``metadata()`` and the templates), which the templates also get as
    ``locale``, with the page's own path as ``current_path`` (for ``locale_url``)."""

    def context(self, req: Request, res: Response, extra: dict[str, Any] | None) -> dict[str, Any]:
        context = super().context(req, res, extra)
        context["locale"] = req.locale
        context["current_path"] = req.raw_path
        return context

    base_url = ""
    """``App(base_url=...)``: the hreflang links are absolute URLs on it when set."""

    async def render(self, req: Request, res: Response, extra: dict[str, Any] | None = None) -> Any:
        # set for the rest of this request, not reset on return: a streamed body is
        # rendered after render() returns, in the same task (each request runs in a
        # task of its own, and so does each cached render, with its own context)
        use_locale(req.locale)
        document = await super().render(req, res, extra)
        if isinstance(document, str) and 'hreflang="' not in document[: document.find("</head>")]:  # metadata may list its own
            document = meta.inject_head(document, self.alternate_tags(req))
        return document

    @functools.cached_property
    def alternates(self) -> BoundedDict[str, str]:
        """The hreflang tags made so far, by path (paths of a dynamic segment: bounded)."""
        return BoundedDict(1024)

    def alternate_tags(self, req: Request) -> str:
        """The ``<link rel="alternate" hreflang=...>`` tags of this path, made once per
        path (a dynamic page renders per request; its alternates only change with it)."""
        tags = self.alternates.get(req.raw_path)
        if tags is None:
            config = req.ctx.i18n
            assert config is not None  # a LocalizedPage serves an app with locales
            languages = {locale: self.base_url + url for locale, url in locale_alternates(req.raw_path, config).items()}
            tags = self.alternates.put(req.raw_path, meta.head_tags({"alternates": {"languages": languages}}))
        return tags


LayoutMemoEntry = tuple[tuple[str, str] | None, str | None]
"""A by_path layout's frame (None: it outputs its children other than once) and the
``csrf()`` slot field in it (None: it has none)."""
LAYOUT_MEMO_MAX = 256
"""Frames kept per by_path layout (search queries make many keys)."""
SLOT_TEXT = SLOT_PREFIX.decode("ascii")


def _csrf_slot(req: Request) -> Callable[[], Markup]:
    """``csrf()`` for a layout rendered once for every visitor of a path: the slot the
    token goes into per request (nexpress.pages.forms); the secret is read only when
    the layout calls it, as ``csrf()`` does."""
    return lambda: Markup(csrf.hidden_input(slot_marker(csrf_secret(req))))


def _join(*parts: str) -> str:
    return "\n".join(p for p in parts if p)


def inject_tail(document: str, tags: str) -> str:
    """Put ``tags`` right before ``</body>`` (at the end when there is none)."""
    end = document.rfind("</body>")
    if end == -1:
        end = document.lower().rfind("</body>")
    if end == -1:
        return document + tags
    return document[:end] + tags + document[end:]


def _static_head(layouts: list[LayoutPlan], module: Any, assets: str) -> tuple[str | None, bool]:
    """Head tags computed once when no metadata is a function; put into the root
    layout's pre-rendered prefix when it has a ``</head>`` (then nothing per request)."""
    metas = [getattr(layout.module, "metadata", None) if layout.module else None for layout in layouts]
    metas.append(getattr(module, "metadata", None) if module is not None else None)
    if any(callable(m) for m in metas):
        return None, False
    head = _join(meta.head_tags(meta.merge([dict(m or {}) for m in metas])), assets)
    if layouts and layouts[0].constant is not None and "</head>" in layouts[0].constant[0]:
        prefix, suffix = layouts[0].constant
        layouts[0].constant = (meta.inject_head(prefix, head), suffix)
        return head, True
    return head, False


def _static_tail(layouts: list[LayoutPlan], tags: str) -> tuple[str, bool]:
    """client.js before ``</body>``: once, into the root layout's pre-rendered
    suffix, when it has one."""
    if layouts and layouts[0].constant is not None and "</body>" in layouts[0].constant[1]:
        prefix, suffix = layouts[0].constant
        layouts[0].constant = (prefix, inject_tail(suffix, tags))
        return tags, True
    return tags, False


def constant_layout(env: jinja2.Environment, template: str, module: Any, is_constant: Callable[[str], bool]) -> tuple[str, str] | None:
    """A layout without data whose templates read nothing but ``children``
    renders the same every time: keep it as two strings around the page."""
    if module is not None and (hasattr(module, "data") or getattr(module, "auth", False)):
        return None
    if not is_constant(template):
        return None
    html = env.get_template(template).render({"children": Markup(SLOT)})
    if html.count(SLOT) != 1:
        return None
    prefix, _, suffix = html.partition(SLOT)
    return prefix, suffix


class SpecialEndpoint(Endpoint):
    """``sitemap.py`` / ``robots.py``: a function returning entries, rendered as XML / text."""

    def __init__(self, fn: Callable, kind: str, expand: Callable[[list[Any]], list[Any]] | None = None) -> None:
        self.fn = fn
        self.kind = kind
        self.expand = expand  # the sitemap of an app with locales: every entry in every locale
        self.__qualname__ = kind
        self.response_kind = "xml" if kind == "sitemap" else "text"

    async def __call__(self, req: Request, res: Response) -> Any:
        result = await call(self.fn, req)
        if isinstance(result, Response) or result is None:
            return result
        if self.kind == "sitemap":
            if self.expand is not None and not isinstance(result, str):
                result = self.expand(result)
            text = result if isinstance(result, str) else sitemap_xml(result)
            return Response(text, media_type="application/xml")
        text = result if isinstance(result, str) else robots_txt(result)
        return Response(text, media_type="text/plain")


async def _chunks(document: str):
    data = document.encode("utf-8")
    for start in range(0, len(data), _STREAM_CHUNK):
        yield data[start : start + _STREAM_CHUNK]


def sitemap_xml(entries: list[dict[str, Any]] | list[str]) -> str:
    """A sitemap from ``[{"url", "lastmod", "changefreq", "priority", "alternates"}]``
    (or URLs); ``alternates`` (``{"fr": url, "x-default": url}``) become
    ``<xhtml:link rel="alternate" hreflang=...>`` links, as search engines read them."""
    items = [{"url": entry} if isinstance(entry, str) else entry for entry in entries]
    namespaces = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
    if any(item.get("alternates") for item in items):
        namespaces += ' xmlns:xhtml="http://www.w3.org/1999/xhtml"'
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f"<urlset {namespaces}>"]
    for item in items:
        lines.append("  <url>")
        lines.append(f"    <loc>{html_escape(str(item['url']), quote=False)}</loc>")
        for key in ("lastmod", "changefreq", "priority"):
            if item.get(key) is not None:
                lines.append(f"    <{key}>{html_escape(str(item[key]), quote=False)}</{key}>")
        for language, url in (item.get("alternates") or {}).items():
            lines.append(f'    <xhtml:link rel="alternate" hreflang="{html_escape(str(language))}" href="{html_escape(str(url))}"/>')
        lines.append("  </url>")
    lines.append("</urlset>")
    return "\n".join(lines) + "\n"


def robots_txt(rules: dict[str, Any]) -> str:
    """robots.txt from ``{"rules": [{"user_agent", "allow", "disallow"}], "sitemap": url}``."""
    lines = []
    rule_list = rules.get("rules", [])
    if isinstance(rule_list, dict):
        rule_list = [rule_list]
    for rule in rule_list:
        agents = rule.get("user_agent", "*")
        for agent in [agents] if isinstance(agents, str) else agents:
            lines.append(f"User-Agent: {agent}")
        for key, label in (("allow", "Allow"), ("disallow", "Disallow")):
            values = rule.get(key)
            for value in [values] if isinstance(values, str) else values or []:
                lines.append(f"{label}: {value}")
        lines.append("")
    sitemaps = rules.get("sitemap")
    for url in [sitemaps] if isinstance(sitemaps, str) else sitemaps or []:
        lines.append(f"Sitemap: {url}")
    host = rules.get("host")
    if host:
        lines.append(f"Host: {host}")
    return "\n".join(lines).strip() + "\n"
