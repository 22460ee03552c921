"""Content negotiation: the Accept header, and refusing a body that is not JSON."""

from __future__ import annotations

from .errors import HTTPError


def require_json(content_type: bytes | None) -> None:
    """415 unless the Content-Type is JSON (``application/json`` or ``*/*+json``).

    Only JSON bodies are parsed as JSON (as express.json() does): a cross-site form
    post (text/plain, urlencoded) can then never reach a JSON handler."""
    media = (content_type or b"").split(b";")[0].strip().lower()
    if media != b"application/json" and not media.endswith(b"+json"):
        raise HTTPError(415, "Expected a JSON body: send it with Content-Type: application/json")


_SHORT_TYPES = {
    "html": "text/html",
    "json": "application/json",
    "text": "text/plain",
    "txt": "text/plain",
    "xml": "application/xml",
    "css": "text/css",
    "js": "text/javascript",
    "png": "image/png",
}


def _media_ranges(header: str | None) -> list[tuple[str, float, int, int]]:
    """(media, q, specificity, index) for each range of an Accept header."""
    if not header:
        return [("*/*", 1.0, 0, 0)]
    ranges = []
    for index, item in enumerate(header.split(",")):
        media, *params = item.strip().split(";")
        media = media.strip().lower()
        if not media:
            continue
        q = 1.0
        for param in params:
            key, _, val = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = max(0.0, min(1.0, float(val)))
                except ValueError:
                    q = 0.0
        specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
        ranges.append((media, q, specificity, index))
    return ranges


def parse_accept(header: str | None) -> list[tuple[str, float]]:
    """Media ranges of an Accept header, best first (stable for equal q)."""
    ranges = sorted(_media_ranges(header), key=lambda r: (-r[1], -r[2], r[3]))
    return [(m, q) for m, q, _, _ in ranges]


def accepts(header: str | None, offered: tuple[str, ...]) -> str | None:
    """Express's ``req.accepts``: the offered type the client prefers, or None.

    As in Express (negotiator), each offer takes the q of the *most specific*
    range that matches it (``text/html;q=0, */*`` refuses HTML); offers are then
    ranked by q, specificity, order in the header and order offered.
    """
    if not offered:
        return None
    ranges = _media_ranges(header)
    best: tuple[tuple[float, int, int, int], str] | None = None
    for order, name in enumerate(offered):
        mime = _SHORT_TYPES.get(name, name).split(";")[0].strip().lower()
        match: tuple[int, float, int] | None = None
        for media, q, specificity, index in ranges:
            if (
                media == "*/*"
                or media == mime
                or (media.endswith("/*") and mime.startswith(media[:-1]))
            ):
                key = (specificity, q, -index)
                if match is None or key > match:
                    match = key
        if match is None or match[1] <= 0:
            continue
        rank = (match[1], match[0], match[2], -order)
        if best is None or rank > best[0]:
            best = (rank, name)
    return None if best is None else best[1]


def wants_html(header: str | None) -> bool:
    """True for browsers (an Accept that names text/html before JSON)."""
    if not header or "html" not in header:
        return False
    return accepts(header, ("json", "html")) == "html"


def prefers_html(accept: bytes | str | None, page: bool) -> bool:
    """Should an error be answered in HTML? Pages answer HTML and APIs problem+json,
    unless the client ranks the other type higher (no Accept, or ``*/*``, keeps the
    route's own kind)."""
    if not accept:
        return page
    header = accept.decode("latin-1") if isinstance(accept, bytes) else accept
    if page:
        return accepts(header, ("html", "json")) != "json"
    return accepts(header, ("json", "html")) == "html"
