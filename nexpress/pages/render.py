"""Rendering pages: ``data(req)`` -> template -> layouts (inside-out) -> metadata.

Every rendering mode renders the same way here; the cache decides how often.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape as xml_escape

from markupsafe import Markup

from ..errors import HTTPError
from ..response import Response
from . import metadata as meta

if TYPE_CHECKING:
    from ..request import Request
    from . import FileRoutes, Folder, Layout

STREAM_THRESHOLD = 256 * 1024
_STREAM_CHUNK = 64 * 1024


async def call(fn: Callable, *args: Any) -> Any:
    """Call a user function that may be sync (run in a thread) or async."""
    if inspect.iscoroutinefunction(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


_SLOT = "\x00nexpress-children\x00"


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
    return {"req": req, "params": req.params, "query": LazyQuery(req), "auth": req.auth}


def _maybe(module: Any, name: str) -> Callable | None:
    """``module.name`` as an async callable (sync functions run in a thread), or None."""
    fn = getattr(module, name, None) if module is not None else None
    if fn is None:
        return None
    if inspect.iscoroutinefunction(fn):
        return fn

    async def run_sync(*args: Any) -> Any:
        return await call(fn, *args)

    return run_sync


async def _data(module: Any, req: Request, where: str) -> dict[str, Any]:
    fn = getattr(module, "data", None) if module is not None else None
    if fn is None:
        return {}
    result = await call(fn, req)
    if result is None:
        return {}
    if not isinstance(result, dict):
        raise TypeError(f"{where}: data(req) must return a dict, not {type(result).__name__}")
    return result


async def _metadata(module: Any, req: Request, data: dict[str, Any]) -> dict[str, Any]:
    value = getattr(module, "metadata", None) if module is not None else None
    if value is None:
        return {}
    if callable(value):
        value = await call(value, req, data)
    return dict(value or {})


class PageRenderer:
    def __init__(self, routes: FileRoutes) -> None:
        self.routes = routes
        self.env = routes.env

    def page_endpoint(
        self,
        folder: Folder,
        module: Any,
        template: str | None,
        layouts: list[Layout],
        source: str,
        mode: str,
    ) -> Callable:
        env = self.env
        page_fn = getattr(module, "page", None) if module is not None else None
        dynamic_params = getattr(module, "dynamic_params", True) if module is not None else True
        static_params_fn = getattr(module, "static_params", None) if module is not None else None
        allowed: list[set] = []

        async def check_params(req: Request) -> None:
            if dynamic_params or static_params_fn is None or not req.params:
                return
            if not allowed:
                entries = await call(static_params_fn)
                allowed.append({_freeze(entry) for entry in entries or ()})
            if _freeze(req.params) not in allowed[0]:
                raise HTTPError(404, "This page was not generated for these parameters")

        # Decided once, at start-up: compiled templates, layouts that do not depend on
        # the request pre-rendered into (prefix, suffix) strings, and static metadata
        # turned into <head> tags (inserted into the root layout's prefix if it can be).
        page_template = env.get_template(template) if template else None
        data_fn = _maybe(module, "data")
        page_meta = getattr(module, "metadata", None) if module is not None else None
        plans: list[tuple[Layout, Any, tuple[str, str] | None]] = []
        for layout in layouts:
            plans.append((layout, env.get_template(layout.template), self._constant_layout(layout)))
        metas = [getattr(layout.module, "metadata", None) if layout.module else None for layout in layouts]
        metas.append(page_meta)
        static_head = None if any(callable(m) for m in metas) else meta.head_tags(meta.merge([dict(m or {}) for m in metas]))
        head_in_prefix = False
        if static_head is not None and plans and plans[0][2] is not None:
            prefix, suffix = plans[0][2]
            if "</head>" in prefix:
                plans[0] = (plans[0][0], plans[0][1], (meta.inject_head(prefix, static_head), suffix))
                head_in_prefix = True
        inside_out = list(reversed(plans))

        async def render_page(req: Request, res: Response) -> Any:
            await check_params(req)
            context = base_context(req)
            data = await data_fn(req) if data_fn is not None else {}
            if data is None:
                data = {}
            elif not isinstance(data, dict):
                raise TypeError(f"{source}: data(req) must return a dict, not {type(data).__name__}")
            if page_fn is not None:
                result = await call(page_fn, req)
                if isinstance(result, Response):
                    return result
                if not isinstance(result, str):
                    raise TypeError(f"{source}: page(req) must return str (HTML) or a Response")
                body = result
            else:
                assert page_template is not None
                body = page_template.render({**context, **data})
            layout_data: dict[int, dict[str, Any]] = {}
            for index, (layout, _, constant) in enumerate(plans):
                if constant is None:
                    layout_data[index] = await _data(layout.module, req, layout.source)
            for position, (_layout, compiled, constant) in enumerate(inside_out):
                if constant is not None:
                    body = constant[0] + body + constant[1]
                else:
                    ldata = layout_data[len(plans) - 1 - position]
                    body = compiled.render({**context, **ldata, "children": Markup(body)})
            if head_in_prefix:
                document = body
            elif static_head is not None:
                document = meta.inject_head(body, static_head)
            else:
                chain_meta = [
                    await _metadata(layout.module, req, layout_data.get(index, {}))
                    for index, (layout, _, _) in enumerate(plans)
                ]
                chain_meta.append(await _metadata(module, req, data))
                document = meta.inject_head(body, meta.head_tags(meta.merge(chain_meta)))
            if len(document) > STREAM_THRESHOLD:
                res.stream(_chunks(document), media_type="html")
                return None
            return document

        render_page.__qualname__ = f"page ({source})"
        render_page.__module__ = "nexpress.pages"
        return render_page

    def _constant_layout(self, layout: Layout) -> tuple[str, str] | None:
        """A layout without data whose templates read nothing but ``children``
        renders the same every time: keep it as two strings around the page."""
        if layout.module is not None and (hasattr(layout.module, "data") or getattr(layout.module, "auth", False)):
            return None
        if not self.routes.is_constant(layout.template, allowed={"children"}):
            return None
        html = self.env.get_template(layout.template).render({"children": Markup(_SLOT)})
        if html.count(_SLOT) != 1:
            return None
        prefix, _, suffix = html.partition(_SLOT)
        return prefix, suffix

    def special_endpoint(self, fn: Callable, kind: str) -> Callable:
        async def render_special(req: Request, res: Response) -> Any:
            result = await call(fn, req)
            if isinstance(result, Response) or result is None:
                return result
            if isinstance(result, str):
                return Response(result, media_type="application/xml" if kind == "sitemap" else "text/plain")
            if kind == "sitemap":
                return Response(sitemap_xml(result), media_type="application/xml")
            return Response(robots_txt(result), media_type="text/plain")

        return render_special

    def error_document(self, folder: Folder, template: str, context: dict[str, Any]) -> str:
        body = self.env.get_template(template).render(context)
        for layout_folder in reversed(folder.chain()):
            layout = layout_folder.layout
            if layout is None:
                continue
            try:
                body = self.env.get_template(layout.template).render({**context, "children": Markup(body)})
            except Exception:  # a layout that needs its data: show the page alone
                continue
        return meta.inject_head(body, meta.head_tags({"title": f"{context['status']} {context['title']}"}))


def _freeze(params: dict[str, Any]) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


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
