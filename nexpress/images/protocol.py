"""The image endpoint's protocol as pure functions: the query, the source URL, the
remote allow-list, the output format by ``Accept``, the variant's cache key.

Everything hostile is refused here with a :class:`~nexpress.http.errors.BadRequest`
naming the problem, before a file is opened or a connection made.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..http.errors import BadRequest, HTTPError
from ..http.paths import percent_decode

__all__ = [
    "MIME",
    "RemotePattern",
    "RemoteURL",
    "Variant",
    "compile_remote",
    "fallback_format",
    "local_segments",
    "match_remote",
    "parse_variant",
    "preferred_format",
    "refuse_remote",
    "remote_url",
    "variant_key",
]

MAX_URL = 2048
_WIDTH = re.compile(r"[1-9][0-9]{0,4}")
_QUALITY = re.compile(r"[1-9][0-9]{0,2}")
_VERSION = re.compile(r"[0-9a-f]{1,16}")
_PARAMS = ("url", "w", "q", "v")
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True, slots=True)
class Variant:
    """One asked-for variant: the source URL (a path under ``public/`` or an absolute
    http(s) URL), the width and quality, and the source version the page linked."""

    url: str
    width: int
    quality: int
    version: str | None = None

    @property
    def remote(self) -> bool:
        return not self.url.startswith("/")


def parse_variant(pairs: list[tuple[str, str]], widths: tuple[int, ...], qualities: tuple[int, ...]) -> Variant:
    """``?url=&w=&q=[&v=]`` -> :class:`Variant`; anything else (a width or quality off
    the lists, a repeated or unknown parameter, a malformed number) is a 400."""
    found: dict[str, str] = {}
    for name, value in pairs:
        if name not in _PARAMS:
            raise BadRequest(f"Unknown image parameter {name[:40]!r}: the endpoint takes url, w and q")
        if name in found:
            raise BadRequest(f"The image parameter {name!r} is given twice")
        found[name] = value
    url = found.get("url")
    if not url:
        raise BadRequest("The image parameter 'url' is missing")
    if len(url) > MAX_URL:
        raise BadRequest(f"The image URL is longer than {MAX_URL} characters")
    width_text = found.get("w", "")
    if not _WIDTH.fullmatch(width_text) or int(width_text) not in widths:
        raise BadRequest(f"The width w={width_text[:12]!r} is not one of the configured widths {list(widths)}")
    quality_text = found.get("q", "75")
    if not _QUALITY.fullmatch(quality_text) or int(quality_text) not in qualities:
        raise BadRequest(f"The quality q={quality_text[:12]!r} is not one of the configured qualities {list(qualities)}")
    version = found.get("v")
    if version is not None and not _VERSION.fullmatch(version):
        raise BadRequest("The image parameter 'v' is not a version this server made")
    return Variant(url, int(width_text), int(quality_text), version)


def local_segments(url: str) -> list[str]:
    """The path segments of a source under ``public/`` (``/avatars/a%20b.png`` ->
    ``["avatars", "a b.png"]``); traversal, dot files, queries, backslashes and
    control characters are a 400 (the join onto ``public/`` checks again)."""
    if not url.startswith("/") or url.startswith("//"):
        raise BadRequest("The image URL must be a path under public/ (starting with '/') or an allowed remote URL")
    if "?" in url or "#" in url:
        raise BadRequest("A local image URL takes no query or fragment")
    segments = []
    for raw in url[1:].split("/"):
        segment = percent_decode(raw, "image URL")
        if not segment or segment.startswith(".") or _CONTROL.search(segment.replace(" ", "")) or "/" in segment:
            raise BadRequest("The image URL is not a plain path under public/")
        segments.append(segment)
    return segments


@dataclass(frozen=True, slots=True)
class RemotePattern:
    """One ``images={"remote": [...]}`` entry, compiled: scheme, host, port and path
    matched separately (a ``*`` never crosses a dot in a host or a slash in a path)."""

    source: str
    scheme: str
    host: re.Pattern[str]
    port: int | None
    path: re.Pattern[str]
    query: str | None


def _glob(pattern: str, one: str, many: str) -> re.Pattern[str]:
    parts = re.split(r"(\*\*|\*)", pattern)
    return re.compile("".join(many if p == "**" else one if p == "*" else re.escape(p) for p in parts))


def compile_remote(pattern: str) -> RemotePattern:
    """``"https://cdn.example.com/avatars/**"``, ``"https://*.example.com/*.png"``,
    ``"http://127.0.0.1:8080/**"``: ``*`` is one host label or one path segment
    (or part of it), ``**`` any number of them. A pattern without a query matches
    URLs without one."""
    parts = urlsplit(pattern)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.fragment:
        raise ValueError(f"App(images={{'remote': [...]}}): {pattern!r} is not an http(s) URL pattern such as 'https://cdn.example.com/**'")
    host = parts.netloc.rsplit(":", 1)[0] if parts.port is not None else parts.netloc
    return RemotePattern(
        source=pattern,
        scheme=parts.scheme,
        host=_glob(host.lower(), r"[a-z0-9-]+", r"[a-z0-9.-]*"),
        port=parts.port,
        path=_glob(parts.path or "/", r"[^/]*", r".*"),
        query=parts.query or None,
    )


@dataclass(frozen=True, slots=True)
class RemoteURL:
    """A remote source URL, split and checked."""

    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str


def remote_url(url: str) -> RemoteURL:
    """Split an absolute source URL, refusing what could mean something else to the
    server fetched from: credentials, fragments, dot segments, control characters."""
    if _CONTROL.search(url):
        raise BadRequest("The image URL has spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest("The image URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("The image URL must be a path under public/ or an http(s) URL")
    if parts.username is not None or parts.password is not None or parts.fragment or "#" in url:
        raise BadRequest("The image URL may not carry credentials or a fragment")
    path = parts.path or "/"
    for segment in path.split("/"):
        if percent_decode(segment, "image URL") in (".", ".."):
            raise BadRequest("The image URL may not contain '.' or '..' segments")
    return RemoteURL(url, parts.scheme, parts.hostname.lower(), port, path, parts.query)


def match_remote(url: RemoteURL, patterns: tuple[RemotePattern, ...]) -> bool:
    """Does any allow-list pattern match ``url``?"""
    for pattern in patterns:
        if (
            pattern.scheme == url.scheme
            and pattern.port == url.port
            and pattern.host.fullmatch(url.host)
            and pattern.path.fullmatch(url.path)
            and (pattern.query or "") == url.query
        ):
            return True
    return False


def refuse_remote(url: str) -> HTTPError:
    return BadRequest(f"The image URL {url[:200]!r} matches no App(images={{'remote': [...]}}) pattern")


MIME = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif"}


def _accepted(accept: str) -> set[str]:
    """The image types an Accept header names explicitly with q > 0 (``*/*`` and
    ``image/*`` do not count: a client that does not name AVIF may not decode it)."""
    named = set()
    for item in accept.split(","):
        media, *params = item.strip().split(";")
        q = 1.0
        for param in params:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > 0:
            named.add(media.strip().lower())
    return named


def preferred_format(accept: str | None, offered: tuple[str, ...]) -> str | None:
    """The first of ``offered`` (``avif``, ``webp``) that the ``Accept`` header names,
    or None: the variant keeps its source's format (see :func:`fallback_format`)."""
    named = _accepted(accept or "")
    for fmt in offered:
        if MIME[fmt] in named:
            return fmt
    return None


def fallback_format(source: str) -> str:
    """The output format for a client that named no modern format: the source's own,
    except AVIF and WebP sources (PNG, which every client decodes)."""
    return "png" if source in ("avif", "webp") else source


def variant_key(identity: str, width: int, quality: int, fmt: str) -> str:
    """The cache key of one variant of one version of a source."""
    return hashlib.sha256(f"{identity}\x00{width}\x00{quality}\x00{fmt}".encode()).hexdigest()[:32]
