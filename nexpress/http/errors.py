"""HTTP errors and their default renderings (RFC 9457 problem+json, or HTML)."""

from __future__ import annotations

import html
from http import HTTPStatus
from typing import Any, NoReturn

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


class StartupError(RuntimeError):
    """The app cannot start as configured (a secret something needs is missing, auth
    has no site URL, ``--strict`` met a warning); the message names the settings to
    fix. The lifespan logs it as one line, without a traceback."""


class NotFound(HTTPError):
    """What :func:`not_found` raises: a 404 answered by the nearest ``not-found.html``."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(404, detail)


def not_found(detail: str | None = None) -> NoReturn:
    """Stop rendering and answer 404, from a handler, a page's ``data()``, a layout,
    ``metadata()`` or ``route.py`` (Next.js's ``notFound()``)."""
    raise NotFound(detail)


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


def html_page(
    status: int,
    title: str,
    detail: str | None,
    trace: str | None = None,
    source: str | None = None,
    excerpt: str | None = None,
) -> bytes:
    """A plain, self-contained HTML error page; everything interpolated is escaped.
    In debug, ``source`` names the route's file and ``excerpt`` shows the failing lines."""
    extra = ""
    if source:
        extra += f"<p>Route: <code>{html.escape(source)}</code></p>"
    if excerpt:
        extra += f"<pre>{html.escape(excerpt)}</pre>"
    return _PAGE.format(
        status=status,
        title=html.escape(title),
        detail=(f"<p>{html.escape(detail)}</p>" if detail else "") + extra,
        trace=f"<pre>{html.escape(trace)}</pre>" if trace else "",
    ).encode("utf-8")


def failing_frame(err: BaseException, skip_prefix: str) -> tuple[str, int, str] | None:
    """The innermost traceback frame outside ``skip_prefix`` (the framework), with
    the lines around it: (filename, line, excerpt)."""
    import linecache
    import traceback

    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(skip_prefix)]
    if not frames:
        return None
    frame = frames[-1]
    if frame.lineno is None:
        return None
    lines = []
    for number in range(max(1, frame.lineno - 3), frame.lineno + 3):
        text = linecache.getline(frame.filename, number)
        if text:
            marker = ">" if number == frame.lineno else " "
            lines.append(f"{marker} {number:4} | {text.rstrip()}")
    return frame.filename, frame.lineno, "\n".join(lines)


class BadRequest(HTTPError):
    def __init__(self, detail: str) -> None:
        super().__init__(400, detail)
