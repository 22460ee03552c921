"""HTTP errors and their default renderings (RFC 9457 problem+json, or HTML)."""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import Any

import msgspec


class HTTPError(Exception):
    """Raise to answer with an HTTP error: ``raise HTTPError(404, "No such user")``.

    ``detail`` is shown to the client (it is meant for them); extra keyword
    ``fields`` are added to the problem+json body (e.g. ``errors=[...]``).
    """

    def __init__(
        self,
        status: int = 500,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        title: str | None = None,
        type: str = "about:blank",
        **fields: Any,
    ) -> None:
        if not 400 <= status <= 599:
            raise ValueError(f"HTTPError status must be 4xx or 5xx, not {status}")
        self.status = status
        self.title = title or _phrase(status)
        self.detail = detail
        self.headers = headers or {}
        self.type = type
        self.fields = fields
        super().__init__(detail or self.title)

    def __repr__(self) -> str:
        return f"HTTPError({self.status}, {self.detail!r})"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem(
    status: int,
    title: str,
    detail: str | None,
    instance: str | None,
    type: str = "about:blank",
    extra: dict[str, Any] | None = None,
) -> bytes:
    """An RFC 9457 problem document as bytes."""
    body: dict[str, Any] = {"type": type, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if extra:
        for key, value in extra.items():
            body.setdefault(key, value)
    return msgspec.json.encode(body)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{status} {title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:48rem;margin:4rem auto;padding:0 1rem;color:#222}}
h1{{font-size:1.6rem}}pre{{background:#f4f4f4;padding:1rem;overflow:auto;font-size:.85rem}}</style>
</head><body><h1>{status} {title}</h1>{detail}{trace}</body></html>"""


def html_page(status: int, title: str, detail: str | None, trace: str | None = None) -> bytes:
    """A plain, self-contained HTML error page; everything interpolated is escaped."""
    return _PAGE.format(
        status=status,
        title=html.escape(title),
        detail=f"<p>{html.escape(detail)}</p>" if detail else "",
        trace=f"<pre>{html.escape(trace)}</pre>" if trace else "",
    ).encode("utf-8")
