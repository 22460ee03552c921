"""Links and the current page: ``is_current(href)`` and ``with_query(...)`` in templates.

Pure functions of the current path and query. The rule is client.js's (which updates
``aria-current="page"`` after every client navigation), so the first render and every
later one agree:

- a link without a query is current on its path, whatever the page's query
  (``/dashboard/invoices`` is current on ``/dashboard/invoices?page=2``);
- a link with a query is current only with the same query string (the URLs that
  ``with_query`` and GET forms make are written the same way each time);
- ``prefix=True`` (``data-current="prefix"`` on the link, for client.js): also on
  every path below it (``/dashboard/invoices`` on ``/dashboard/invoices/7/edit``);
- trailing slashes do not count; links to other origins are never current.
"""

from __future__ import annotations

from urllib.parse import unquote, urlencode, urlsplit

from ..http.query import parse_qs

__all__ = ["is_current", "with_query"]


def _path(path: str) -> str:
    path = unquote(path or "/")
    return path.rstrip("/") or "/"


def is_current(path: str, query: str, href: str, prefix: bool = False) -> bool:
    """Is ``href`` the page at ``path`` (``query``: its raw query string)?"""
    try:
        target = urlsplit(href)
        if target.scheme or target.netloc:
            return False
        wanted = _path(target.path) if target.path else _path(path)
        here = _path(path)
        if target.query and target.query != query:
            return False
    except ValueError:
        return False
    if here == wanted:
        return True
    return prefix and here.startswith(wanted.rstrip("/") + "/")


def _pairs(query: str) -> list[tuple[str, str]]:
    try:
        return parse_qs(query)
    except Exception:  # a malformed query matches nothing
        return [("\x00", query)]


def with_query(path: str, query: str, changes: dict[str, object]) -> str:
    """The current URL with some parameters set (``None``: removed), the others kept
    in their order: ``with_query(page=2)`` on ``/invoices?query=lee&page=1`` is
    ``/invoices?query=lee&page=2``."""
    pairs: list[tuple[str, str]] = []
    done: set[str] = set()
    for name, value in _pairs(query):
        if name == "\x00" or name in done:
            continue
        if name in changes:
            done.add(name)
            if changes[name] is not None:
                pairs.append((name, str(changes[name])))
            continue
        pairs.append((name, value))
    pairs += [(name, str(value)) for name, value in changes.items() if value is not None and name not in done]
    return path + ("?" + urlencode(pairs) if pairs else "")
