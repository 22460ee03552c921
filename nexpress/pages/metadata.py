"""Page metadata: merged from the root layout down, rendered into ``<head>``.

Pure functions on plain dicts. Recognised keys: ``title``, ``title_template``
(layouts: ``"%s | My site"``), ``description``, ``keywords``, ``canonical``,
``robots``, ``open_graph`` (``title``, ``description``, ``image``, ``url``,
``type``, ``site_name``), ``alternates`` (``canonical``, ``languages``: the page in
other languages, ``{"fr": "https://site/fr/blog", "x-default": ...}``, as
``<link rel="alternate" hreflang=...>``; pages of an app with ``App(i18n=...)`` get
them for every locale unless their metadata lists some).
"""

from __future__ import annotations

from html import escape
from typing import Any


def merge(chain: list[dict[str, Any]]) -> dict[str, Any]:
    """Merge metadata dicts outside-in; nested ``open_graph`` dicts merge key by key.
    A layout's ``title_template`` applies to titles set below it."""
    merged: dict[str, Any] = {}
    template: str | None = None
    for index, meta in enumerate(chain):
        if not meta:
            continue
        for key, value in meta.items():
            if key in ("open_graph", "alternates") and isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            elif key == "title_template":
                continue
            elif key == "title" and template and index > 0:
                merged["title"] = template.replace("%s", str(value))
            else:
                merged[key] = value
        if meta.get("title_template"):
            template = meta["title_template"]
    return merged


def head_tags(meta: dict[str, Any]) -> str:
    """The ``<head>`` tags for merged metadata, every value escaped."""
    tags: list[str] = []
    if meta.get("title") is not None:
        tags.append(f"<title>{escape(str(meta['title']))}</title>")
    for name in ("description", "keywords", "robots"):
        value = meta.get(name)
        if value:
            if isinstance(value, (list, tuple)):
                value = ", ".join(map(str, value))
            tags.append(f'<meta name="{name}" content="{escape(str(value))}">')
    alternates = dict(meta.get("alternates") or {})
    canonical = meta.get("canonical") or alternates.get("canonical")
    if canonical:
        tags.append(f'<link rel="canonical" href="{escape(str(canonical))}">')
    for language, url in dict(alternates.get("languages") or {}).items():
        tags.append(f'<link rel="alternate" hreflang="{escape(str(language))}" href="{escape(str(url))}">')
    og = dict(meta.get("open_graph") or {})
    if og:
        og.setdefault("title", meta.get("title"))
        og.setdefault("description", meta.get("description"))
    for key, value in og.items():
        if value is not None:
            tags.append(f'<meta property="og:{escape(key)}" content="{escape(str(value))}">')
    return "\n".join(tags)


def inject_head(document: str, tags: str) -> str:
    """Put ``tags`` into the document's ``<head>``, making a document if needed."""
    if not tags:
        tags = ""
    end = document.find("</head>")
    if end == -1:
        end = document.lower().find("</head>")
    if end != -1:
        return document[:end] + tags + "\n" + document[end:]
    lower = document.lower()
    html_open = lower.find("<html")
    if html_open != -1:
        close = lower.find(">", html_open)
        return document[: close + 1] + f"<head><meta charset=\"utf-8\">{tags}</head>" + document[close + 1 :]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"{tags}</head><body>{document}</body></html>"
    )
