"""Where the site lives and where a sign-in may return to (pure functions).

``same_origin(url, origin)`` is the open-redirect guard for every ``callbackUrl``:
a relative path on this site or an absolute URL with exactly this origin passes;
everything a browser could read as another host is refused, whatever the
spelling (``//evil``, ``/\\evil``, ``https:evil``, ``https://site@evil``,
tabs and newlines that browsers strip, ...).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..http.errors import HTTPError
from ..http.paths import has_unsafe_url_characters, local_path
from .errors import UntrustedHost

if TYPE_CHECKING:
    from ..http.request import Request

__all__ = ["is_loopback", "normalise_origin", "origin_of_request", "same_origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FORWARDED = (b"x-forwarded-proto", b"x-forwarded-host", b"forwarded")
_MAX_URL = 2048

logger = logging.getLogger("nexpress.auth")


def normalise_origin(url: str) -> str:
    """``https://Example.com:443/path`` -> ``https://example.com``; raises ValueError
    for anything that is not an http(s) URL with a host."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{url!r} is not an http(s) origin like https://example.com")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6
        host = f"[{host}]"
    port = parts.port
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def same_origin(url: str | None, origin: str) -> str | None:
    """``url`` as a safe redirect target on ``origin`` (a normalised origin), or None.

    Relative paths (``/dashboard?x=1``) are returned as they are; absolute URLs only
    when their origin is exactly ``origin``. Anything else -- other hosts, other
    schemes, protocol-relative ``//host``, backslashes, userinfo, control
    characters, over-long values -- is None.
    """
    if not url or len(url) > _MAX_URL or has_unsafe_url_characters(url):
        return None
    if url.startswith("/"):
        return local_path(url)
    parts = urlsplit(url)
    if parts.scheme.lower() not in _DEFAULT_PORTS or not url[len(parts.scheme) :].startswith("://"):
        return None  # "https:evil.example", "javascript:...", "evil.example/path"
    try:
        if normalise_origin(f"{parts.scheme}://{parts.netloc}") != origin:
            return None
    except ValueError:
        return None
    if "@" in parts.netloc:
        return None
    return url


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "127.0.0.1", "::1") or host.startswith("127.")


@lru_cache(maxsize=4)
def _note_untrusted_proxy(header: str) -> None:
    """One warning per process and header: a misconfigured proxy is visible in the
    log, while a client sending the header on purpose cannot fill it."""
    logger.warning(
        "nexpress.auth: requests carry %s but App(trust_proxy=...) is off; they get 400. Behind a"
        " proxy, set App(trust_proxy=...) to its address (or True), or set Auth(url=...)/AUTH_URL.",
        header,
    )


def origin_of_request(req: Request, *, trust_host: bool) -> str:
    """The site's origin as this request shows it, when that may be trusted.

    Raises :class:`UntrustedHost` when ``trust_host`` is off (a configuration
    error: production start-up refuses it), and ``HTTPError(400)`` for what a client
    controls: a proxy header (``X-Forwarded-*``, ``Forwarded``) while
    ``App(trust_proxy=...)`` is off, or a Host header that is not a host name.
    """
    if not trust_host:
        raise UntrustedHost(
            "The auth endpoints cannot trust the Host header: set Auth(url='https://your.site')"
            " (or the AUTH_URL environment variable), or Auth(trust_host=True) (AUTH_TRUST_HOST=1)"
            " when your server or proxy guarantees the Host header."
        )
    if not req.ctx.trust_proxy:
        raw = req.headers
        for name in _FORWARDED:
            if raw.raw_get(name) is not None:
                _note_untrusted_proxy(name.decode())
                raise HTTPError(
                    400,
                    f"This request carries a {name.decode()} header, but this site trusts no proxy"
                    " (App(trust_proxy=...)), so it cannot build sign-in URLs from it.",
                    title="Untrusted proxy header",
                )
    host = req.get("x-forwarded-host") if req.ctx.trust_proxy else None
    host = (host or "").split(",")[0].strip() or req.get("host")
    if not host or has_unsafe_url_characters(host) or "/" in host or "@" in host:
        raise HTTPError(400, "The request has no usable Host header", title="Bad Host header")
    try:
        return normalise_origin(f"{req.protocol}://{host}")
    except ValueError:
        raise HTTPError(400, "The Host header is not a host name", title="Bad Host header") from None
