"""URL paths: percent-decoding, splitting, URL encoding, and joining a path onto a folder
without escaping it. Pure functions; hostile input raises :class:`BadRequest`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from urllib.parse import quote

from .errors import BadRequest

_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def percent_decode(text: str, what: str = "path", plus_as_space: bool = False) -> str:
    """Decode %XX escapes once, strictly: bad escapes or invalid UTF-8 -> 400."""
    if plus_as_space and "+" in text:
        text = text.replace("+", " ")
    if "%" not in text:
        return text
    if _PERCENT.search(text):
        raise BadRequest(f"Malformed percent-encoding in {what}: {text[:80]!r}")
    try:
        raw = bytes(_percent_bytes(text))
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"The {what} is not valid UTF-8 after percent-decoding") from None


def _percent_bytes(text: str) -> Iterator[int]:
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            yield int(text[i + 1 : i + 3], 16)
            i += 3
        else:
            yield from ch.encode("utf-8")
            i += 1


def decode_raw_path(raw: bytes) -> str:
    """The request target's path as text (still percent-encoded); invalid UTF-8 -> 400."""
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest("The request path is not valid UTF-8") from None


def split_path(path: str) -> list[str]:
    """Split '/a/b%2Fc' into decoded segments ['a', 'b/c'] (decoding after splitting)."""
    parts = path.split("/")[1:] if path != "/" else []
    if "%" in path:
        return [percent_decode(p) for p in parts]
    return parts


_URL_SAFE = "!#$%&'()*+,-./:;=?@[]_~"


def encode_url(url: str) -> str:
    """Percent-encode characters not allowed in a URL, keeping existing escapes
    (Express's encodeurl): a Location built from user input cannot split headers."""
    encoded = quote(url, safe=_URL_SAFE)
    return _PERCENT.sub("%25", encoded)


def has_unsafe_url_characters(url: str) -> bool:
    """Control characters, spaces (browsers strip tab/CR/LF inside URLs) or
    backslashes (browsers read ``\\`` as ``/`` in http(s) URLs): never a safe redirect."""
    return any(ord(ch) <= 0x20 or ch == "\x7f" or ch == "\\" for ch in url)


MAX_REDIRECT_URL = 2048


def local_path(url: str | None) -> str | None:
    """``url`` when it is a path on this site (``/blog/x?y=1``) and nothing a browser
    could read as another host (``//evil``, ``/\\evil``, ``https://evil``, control
    characters, over-long values); else None. The open-redirect guard for a
    redirect target taken from the request."""
    if not url or len(url) > MAX_REDIRECT_URL or not url.startswith("/") or url.startswith("//"):
        return None
    if has_unsafe_url_characters(url):
        return None
    return url


_FORBIDDEN_IN_SEGMENT = ("\\", "\x00", "/")


def safe_join(root: str, relative: str) -> str | None:
    """Join a decoded, '/'-separated ``relative`` path onto ``root``; None when the
    result would escape ``root`` ('..', backslashes, NUL, absolute paths, symlinks out)."""
    parts = [p for p in relative.split("/") if p not in ("", ".")]
    for part in parts:
        if part == ".." or any(c in part for c in _FORBIDDEN_IN_SEGMENT) or ":" in part[:2]:
            return None
    base = os.path.realpath(root)
    full = os.path.realpath(os.path.join(base, *parts)) if parts else base
    if full != base and not full.startswith(base + os.sep):
        return None
    return full


def safe_segments_join(root: str, segments: list[str]) -> str | None:
    """Like :func:`safe_join` for already-decoded segments, where a decoded '/'
    inside one segment (from %2F) is itself a traversal attempt."""
    for seg in segments:
        if any(c in seg for c in _FORBIDDEN_IN_SEGMENT) or seg == "..":
            return None
    return safe_join(root, "/".join(segments))
