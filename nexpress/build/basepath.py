"""A static export served below a path (``https://you.github.io/project/``): every
root-relative URL an exported page links (``href="/docs"``, ``src="/_nexpress/..."``)
gets the base path in front, so the same app exports for the root of a host or for a
folder of it. Pure functions over the exported bytes; ``export`` calls them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["BasePathError", "base_path_of", "normalise_base_path", "prefix_urls"]

# an attribute holding one URL, quoted, starting with one "/" (not "//host", a
# protocol-relative URL to another site); text in code blocks is escaped (&quot;), so
# only real attributes match
_URL_ATTRIBUTE = re.compile(rb"""(\s(?:href|src|action|formaction|poster|data)\s*=\s*)(["'])/(?![/\\])""", re.IGNORECASE)
_SRCSET = re.compile(rb"""(\ssrcset\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_ALLOWED = re.compile(r"^(/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)+$")


class BasePathError(ValueError):
    """A base path that cannot prefix URLs; the message shows the accepted form."""


def normalise_base_path(value: str | None) -> str:
    """``"/docs/"`` -> ``"/docs"``; ``""``, ``"/"`` and None -> ``""`` (the host's root)."""
    text = (value or "").strip().rstrip("/")
    if not text:
        return ""
    if not _ALLOWED.match(text) or "//" in text:
        raise BasePathError(f"base path {value!r}: expected a path such as /docs or /project/v2 (no spaces, quotes, '?' or '#')")
    return text


def base_path_of(base_url: str | None) -> str:
    """The path part of the app's public URL (``https://x.github.io/site`` -> ``/site``)."""
    return normalise_base_path(urlsplit(base_url).path) if base_url else ""


def prefix_urls(html: bytes, base: str) -> bytes:
    """``html`` with ``base`` in front of every root-relative URL in its attributes."""
    if not base:
        return html
    prefix = base.encode("ascii")
    html = _URL_ATTRIBUTE.sub(lambda m: m.group(1) + m.group(2) + prefix + b"/", html)
    return _SRCSET.sub(lambda m: m.group(1) + m.group(2) + _prefix_srcset(m.group(3), prefix) + m.group(2), html)


def _prefix_srcset(value: bytes, prefix: bytes) -> bytes:
    """``/a.png 1x, /b.png 2x``: each candidate's URL."""
    out = []
    for candidate in value.split(b","):
        stripped = candidate.lstrip()
        lead = candidate[: len(candidate) - len(stripped)]
        if stripped.startswith(b"/") and not stripped.startswith((b"//", b"/\\")):
            stripped = prefix + stripped
        out.append(lead + stripped)
    return b",".join(out)
