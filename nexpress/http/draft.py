"""Draft mode: one browser sees static and ISR pages rendered fresh, to preview
unpublished content, while everyone else keeps getting the cached page.

The browser carries a cookie (:data:`COOKIE`) holding an expiry time signed with a
key derived from the app secret for this purpose only (a value some other signed
cookie of the app vouches for can never pass as it). A tampered, forged or expired
cookie is ignored: the request is an ordinary one. Pure functions plus the
``draft_mode`` object user code calls (``from nexpress import draft_mode``).
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .errors import HTTPError
from .paths import local_path

if TYPE_CHECKING:
    from .request import Request
    from .response import Response

__all__ = [
    "COOKIE",
    "COOKIE_BYTES",
    "DEFAULT_MAX_AGE",
    "DraftMode",
    "cookie_sent",
    "cookie_value",
    "draft_mode",
    "draft_rendering",
    "is_valid",
    "start_draft_render",
    "stop_draft_render",
]

COOKIE = "__nexpress_draft"
"""The draft-mode cookie's name."""
COOKIE_BYTES = COOKIE.encode("ascii") + b"="
"""What a ``Cookie`` header holds when the browser sends the draft cookie: the cached
pages' fast path looks for it in one scan and leaves such requests to the general path."""
DEFAULT_MAX_AGE = 3600
"""Seconds a draft session lasts unless ``enable(res, max_age=...)`` says otherwise."""
SCOPE_KEY = "nexpress.draft"
"""The scope entry a cached page's bare render carries when it renders for a draft request."""
_MAX_VALUE = 200


_rendering: contextvars.ContextVar[bool] = contextvars.ContextVar("nexpress_draft_render", default=False)


def start_draft_render() -> contextvars.Token[bool]:
    """Mark the render that follows (in this context) as a draft render: ``@cached``
    calls then neither read nor store the data cache."""
    return _rendering.set(True)


def stop_draft_render(token: contextvars.Token[bool]) -> None:
    _rendering.reset(token)


def draft_rendering() -> bool:
    """True inside a draft render (see :func:`start_draft_render`)."""
    return _rendering.get()


def cookie_sent(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Does a ``Cookie`` header of these (raw ASGI) headers carry the draft cookie?
    A quick look, before any parsing: most requests never get further."""
    for name, value in headers:  # noqa: SIM110 - a plain loop is faster than any() here
        if name == b"cookie" and COOKIE_BYTES in value:
            return True
    return False


def _key(secret: str) -> bytes:
    # a key of its own, so no other HMAC of the app (signed cookies, CSRF) can serve as one
    return hmac.new(secret.encode("utf-8"), b"nexpress.http.draft", hashlib.sha256).digest()


def _mac(secret: str, expires: str) -> str:
    return hmac.new(_key(secret), expires.encode("ascii"), hashlib.sha256).hexdigest()


def cookie_value(secret: str, expires: int) -> str:
    """``<expires>.<hmac>``: the draft cookie valid until the Unix time ``expires``."""
    text = str(int(expires))
    return f"{text}.{_mac(secret, text)}"


def is_valid(secret: str | None, value: str | None, now: float | None = None) -> bool:
    """True for a genuine, unexpired draft cookie value; False for anything else
    (no secret, malformed, tampered, forged with another key, expired)."""
    if not secret or not value or len(value) > _MAX_VALUE:
        return False
    expires, dot, mac = value.partition(".")
    if not dot or not expires.isascii() or not expires.isdigit():
        return False
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(secret, expires).encode("ascii")):
        return False
    return int(expires) > (time.time() if now is None else now)


def _secret_of(res: Response) -> tuple[str, bool]:
    request = res.request
    secret = request.ctx.secret if request is not None else None
    if request is None or not secret:
        raise RuntimeError(
            "draft_mode.enable(res) signs its cookie with the app secret: set App(secret=...) or"
            " NEXPRESS_SECRET, and call it with the res of a request (app.get(path, handler) or route.py)"
        )
    return secret, request.secure


class DraftMode:
    """``draft_mode.enable(res)`` / ``draft_mode.disable(res)``; ``req.draft_mode`` reads it."""

    __slots__ = ()

    def enable(self, res: Response, *, max_age: int = DEFAULT_MAX_AGE) -> None:
        """Turn draft mode on for the browser this response goes to: a signed,
        HttpOnly, SameSite=Lax cookie (Secure on HTTPS) lasting ``max_age`` seconds."""
        secret, secure = _secret_of(res)
        value = cookie_value(secret, int(time.time()) + max_age)
        res.cookie(COOKIE, value, max_age=max_age, http_only=True, secure=secure, same_site="lax", path="/")
        res.set("cache-control", "private, no-store")

    def disable(self, res: Response) -> None:
        """Turn draft mode off for that browser (the cached pages come back)."""
        res.clear_cookie(COOKIE, path="/")
        res.set("cache-control", "private, no-store")

    def is_enabled(self, req: Request) -> bool:
        """``req.draft_mode``."""
        return req.draft_mode

    def preview(self, req: Request, res: Response, *, secret: str | None, default: str = "/") -> None:
        """The preview route in one call (``GET /api/draft?secret=...&path=/blog/x``):
        401 unless ``?secret=`` equals ``secret`` (compared in constant time; an unset
        ``secret`` refuses every request), 400 unless ``?path=`` is a path on this site
        (no open redirect), then draft mode on and a 307 to that path."""
        given = req.query.get("secret") or ""
        if not secret or not hmac.compare_digest(given.encode("utf-8", "replace"), secret.encode("utf-8")):
            raise HTTPError(401, "Draft mode needs the preview secret in ?secret=")
        wanted = req.query.get("path")
        target = default if wanted is None else local_path(wanted)
        if target is None:
            raise HTTPError(400, "?path= must be a path on this site, such as /blog/my-post")
        self.enable(res)
        res.redirect(target, 307)

    def exit(self, req: Request, res: Response, *, to: str = "/") -> None:
        """The exit route (``POST``): draft mode off and a 303 to ``?path=`` (a path
        on this site) or ``to``. GET is refused (405) so a prefetch, a crawler or an
        ``<img>`` cannot end a preview; a cross-site POST (an ``Origin`` of another
        host) is refused (403)."""
        if req.method != "POST":
            raise HTTPError(405, "Leave draft mode with a POST (a form button)", headers={"allow": "POST"})
        origin = req.get("origin")
        if origin is not None and origin.partition("://")[2] != (req.get("host") or ""):
            raise HTTPError(403, "Cross-site request refused")
        self.disable(res)
        res.redirect(local_path(req.query.get("path")) or to, 303)


draft_mode = DraftMode()
"""The object user code calls: ``from nexpress import draft_mode``."""
