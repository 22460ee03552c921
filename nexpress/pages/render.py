"""Rendering pages: ``data(req)`` -> template -> layouts (inside-out) -> metadata.

Every rendering mode renders the same way here; the cache decides how often.
What does not depend on the request is decided when the page is discovered:
templates compiled, layouts that read nothing but ``children`` pre-rendered into
two strings, static metadata turned into ``<head>`` tags once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape

import jinja2
from markupsafe import Markup

from .._call import call
from ..errors import HTTPError
from ..response import Response
from ..routing.endpoint import Endpoint
from . import metadata as meta

if TYPE_CHECKING:
    from ..request import Request

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
    """What every page and layout template sees."""
    return {"req": req, "params": req.params, "query": LazyQuery(req), "auth": req.auth}


async def call_data(module: Any, req: Request, where: str) -> dict[str, Any] | Response:
    """``module.data(req)``: a dict for the template, or a Response to send instead
    (``return redirect(...)``)."""
    fn = getattr(module, "data", None) if module is not None else None
    if fn is None:
        return {}
    result = await call(fn, req)
    if result is None:
        return {}
    if isinstance(result, (dict, Response)):
        return result
    raise TypeError(f"{where}: data(req) must return a dict (or a Response such as redirect(...)), not {type(result).__name__}")


async def call_metadata(module: Any, req: Request, data: dict[str, Any]) -> dict[str, Any] | Response:
    value = getattr(module, "metadata", None) if module is not None else None
    if value is None:
        return {}
    if callable(value):
        value = await call(value, req, data)
    if isinstance(value, Response):
        return value
    return dict(value or {})


class TemplateVariableError(NameError):
    """A template used a variable nobody passed (an error in dev; empty in production)."""


def render_template(template: jinja2.Template, context: dict[str, Any]) -> str:
    """Render, naming the template when it uses an undefined variable (dev)."""
    try:
        return template.render(context)
    except jinja2.UndefinedError as exc:
        known = ", ".join(sorted(k for k in context if not k.startswith("_")))
        raise TemplateVariableError(
            f"app/{template.name}: {exc.message}; the template can use: {known}"
        ) from exc


@dataclass(slots=True)
class LayoutPlan:
    """One layout around a page: its compiled template, its ``layout.py`` module, and
    when it reads nothing but ``children``, its output pre-rendered around a slot."""

    source: str
    module: Any
    template: jinja2.Template
    constant: tuple[str, str] | None


def freeze_params(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


class PageEndpoint(Endpoint):
    """One page of ``app/``: ``page.html`` with ``page.py``'s ``data()``, or
    ``page.py``'s ``page(req)``, wrapped in its layouts, with metadata in ``<head>``."""

    def __init__(
        self,
        *,
        source: str,
        module: Any,
        template: jinja2.Template | None,
        layouts: list[LayoutPlan],
    ) -> None:
        self.source = source
        self.module = module
        self.template = template
        self.page_fn = getattr(module, "page", None) if module is not None else None
        self.dynamic_params = getattr(module, "dynamic_params", True) if module is not None else True
        self.static_params = getattr(module, "static_params", None) if module is not None else None
        self._allowed: set[tuple] | None = None
        self.layouts = layouts
        self.head, self.head_in_prefix = _static_head(layouts, module)
        self.__qualname__ = f"page ({source})"

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
        await self.check_params(req)
        context = base_context(req)
        data = await call_data(self.module, req, self.source)
        if isinstance(data, Response):
            return data
        if self.page_fn is not None:
            body = await call(self.page_fn, req)
            if isinstance(body, Response):
                return body
            if not isinstance(body, str):
                raise TypeError(f"{self.source}: page(req) must return str (HTML) or a Response")
        else:
            assert self.template is not None
            body = render_template(self.template, {**context, **data})
        layout_data = await self.layout_data(req)
        if isinstance(layout_data, Response):
            return layout_data
        body = self.wrap(body, context, layout_data)
        document = await self.with_head(req, body, data, layout_data)
        if isinstance(document, Response):
            return document
        if len(document) > STREAM_THRESHOLD:
            res.stream(_chunks(document), media_type="html")
            return None
        return document

    async def layout_data(self, req: Request) -> dict[int, dict[str, Any]] | Response:
        """``data()`` of every layout that is not pre-rendered, by position."""
        found: dict[int, dict[str, Any]] = {}
        for index, layout in enumerate(self.layouts):
            if layout.constant is None:
                data = await call_data(layout.module, req, layout.source)
                if isinstance(data, Response):
                    return data
                found[index] = data
        return found

    def wrap(self, body: str, context: dict[str, Any], layout_data: dict[int, dict[str, Any]]) -> str:
        """Put the page inside its layouts, innermost first."""
        for index in range(len(self.layouts) - 1, -1, -1):
            layout = self.layouts[index]
            if layout.constant is not None:
                body = layout.constant[0] + body + layout.constant[1]
            else:
                body = render_template(layout.template, {**context, **layout_data[index], "children": Markup(body)})
        return body

    async def with_head(self, req: Request, body: str, data: dict[str, Any], layout_data: dict[int, dict[str, Any]]) -> str | Response:
        """The document with its metadata in ``<head>``."""
        if self.head_in_prefix:
            return body
        if self.head is not None:
            return meta.inject_head(body, self.head)
        chain: list[dict[str, Any]] = []
        for index, layout in enumerate(self.layouts):
            found = await call_metadata(layout.module, req, layout_data.get(index, {}))
            if isinstance(found, Response):
                return found
            chain.append(found)
        found = await call_metadata(self.module, req, data)
        if isinstance(found, Response):
            return found
        chain.append(found)
        return meta.inject_head(body, meta.head_tags(meta.merge(chain)))


def _static_head(layouts: list[LayoutPlan], module: Any) -> tuple[str | None, bool]:
    """Head tags computed once when no metadata is a function; put into the root
    layout's pre-rendered prefix when it has a ``</head>`` (then nothing per request)."""
    metas = [getattr(layout.module, "metadata", None) if layout.module else None for layout in layouts]
    metas.append(getattr(module, "metadata", None) if module is not None else None)
    if any(callable(m) for m in metas):
        return None, False
    head = meta.head_tags(meta.merge([dict(m or {}) for m in metas]))
    if layouts and layouts[0].constant is not None and "</head>" in layouts[0].constant[0]:
        prefix, suffix = layouts[0].constant
        layouts[0].constant = (meta.inject_head(prefix, head), suffix)
        return head, True
    return head, False


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

    def __init__(self, fn: Callable, kind: str) -> None:
        self.fn = fn
        self.kind = kind
        self.__qualname__ = kind

    async def __call__(self, req: Request, res: Response) -> Any:
        result = await call(self.fn, req)
        if isinstance(result, Response) or result is None:
            return result
        if self.kind == "sitemap":
            text = result if isinstance(result, str) else sitemap_xml(result)
            return Response(text, media_type="application/xml")
        text = result if isinstance(result, str) else robots_txt(result)
        return Response(text, media_type="text/plain")


async def _chunks(document: str):
    data = document.encode("utf-8")
    for start in range(0, len(data), _STREAM_CHUNK):
        yield data[start : start + _STREAM_CHUNK]


def sitemap_xml(entries: list[dict[str, Any]] | list[str]) -> str:
    """A sitemap from ``[{"url", "lastmod", "changefreq", "priority"}]`` (or URLs)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">']
    for entry in entries:
        item = {"url": entry} if isinstance(entry, str) else entry
        lines.append("  <url>")
        lines.append(f"    <loc>{xml_escape(str(item['url']))}</loc>")
        for key in ("lastmod", "changefreq", "priority"):
            if item.get(key) is not None:
                lines.append(f"    <{key}>{xml_escape(str(item[key]))}</{key}>")
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
