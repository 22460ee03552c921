"""CSRF protection: one double-submit token shared by the auth endpoints, the
``csrf`` middleware battery and server actions.

How it works (the scheme Auth.js uses, with an HMAC): the browser holds a cookie
``<token>|<hmac>`` where ``token`` is 32 random bytes (base64url) and ``hmac`` is
HMAC-SHA256 of the token under a key derived from the app secret. A state-changing
request must repeat the token in the form field ``csrfToken`` or the header
``x-csrf-token``. A cross-site page can make the browser *send* the cookie but can
neither read it nor forge a cookie that passes the HMAC, so it cannot repeat the
token. All comparisons are constant-time.

Public API (pure functions first, then the request-level helpers):

- :func:`new_token`, :func:`cookie_value`, :func:`token_from_cookie`,
  :func:`verify` -- the scheme, no I/O, tested without a server.
- :func:`cookie_name` -- ``nexpress.http.csrf-token``, ``__Host-`` prefixed on HTTPS.
- :func:`secret_for` -- the key every user of this module takes: ``App(secret=...)``
  / ``NEXPRESS_SECRET``, else ``AUTH_SECRET``.
- :func:`token_for` ``(req, res)`` -- the request's token, issuing the cookie on
  ``res`` when the browser has none (or a forged one); the same token however often
  it is called in one request.
- :func:`submitted_token` ``(req)`` and :func:`check_request` ``(req)`` -- read the
  token a request sent (header first, then a urlencoded or multipart form) and
  raise ``HTTPError(403)`` unless it matches the cookie.
- :func:`hidden_input` -- ``<input type="hidden" name="csrfToken" value="...">``,
  what ``{{ csrf() }}`` renders in templates.

A page that renders a token must be dynamic: a token in a cached (static/ISR) page
would be one visitor's token served to everyone (and fail for them all).
"""

from __future__ import annotations

import base64
import functools
import hmac
import html
import os
import secrets
from typing import TYPE_CHECKING

from .errors import HTTPError, StartupError

if TYPE_CHECKING:
    from .context import HasSecret
    from .request import Request
    from .response import Response

__all__ = [
    "FIELD",
    "HEADER",
    "MissingSecret",
    "check_request",
    "cookie_name",
    "cookie_value",
    "has_secret",
    "hidden_input",
    "new_token",
    "secret_for",
    "submitted_token",
    "token_for",
    "token_from_cookie",
    "verify",
]

FIELD = "csrfToken"  # the form field (Auth.js's name)
HEADER = "x-csrf-token"
COOKIE = "nexpress.http.csrf-token"
SAFE_METHODS = frozenset(("GET", "HEAD", "OPTIONS", "TRACE"))
_SCOPE_KEY = "nexpress.csrf_token"  # the token already chosen for this request
_TOKEN_BYTES = 32
_MAX_COOKIE = 200  # a real cookie is 43 + 1 + 43 characters


class MissingSecret(StartupError):
    """No secret to key CSRF tokens (or sessions) with; the message names the setting.
    Raised at start-up when something needs one (see ``App.secret_users``)."""


def new_token() -> str:
    """A fresh random token (32 bytes, base64url without padding)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_TOKEN_BYTES)).rstrip(b"=").decode("ascii")


@functools.lru_cache(maxsize=16)
def _key(secret: str | bytes) -> bytes:
    """The CSRF key of an app secret (derived once per secret, not per request)."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else secret
    # a key of its own, so a CSRF HMAC can never double as a cookie signature
    return hmac.digest(raw, b"nexpress.http.csrf", "sha256")


def _mac(secret: str | bytes, token: str) -> str:
    digest = hmac.digest(_key(secret), token.encode("ascii"), "sha256")  # one C call
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def cookie_value(secret: str | bytes, token: str) -> str:
    """The cookie that vouches for ``token``: ``<token>|<hmac>``."""
    return f"{token}|{_mac(secret, token)}"


def token_from_cookie(secret: str | bytes, value: str | None) -> str | None:
    """The token in a cookie value if its HMAC checks out, else None."""
    if not value or len(value) > _MAX_COOKIE or value.count("|") != 1:
        return None
    token, mac = value.split("|")
    if not token or not token.isascii():
        return None
    if not hmac.compare_digest(mac.encode("ascii", "replace"), _mac(secret, token).encode("ascii")):
        return None
    return token


def verify(secret: str | bytes, cookie: str | None, submitted: str | None) -> bool:
    """True when ``cookie`` is genuine and ``submitted`` repeats its token."""
    token = token_from_cookie(secret, cookie)
    if token is None or not submitted:
        return False
    return hmac.compare_digest(token.encode("ascii"), submitted.encode("utf-8", "replace"))


def cookie_name(secure: bool) -> str:
    """``__Host-nexpress.http.csrf-token`` on HTTPS (bound to the exact host, path /), else
    ``nexpress.http.csrf-token``."""
    return "__Host-" + COOKIE if secure else COOKIE


def secret_for(holder: HasSecret) -> str:
    """The secret CSRF tokens are keyed with: ``App(secret=...)`` (or
    ``NEXPRESS_SECRET``), else ``AUTH_SECRET``. Raises :class:`MissingSecret`."""
    secret = holder.secret or os.environ.get("AUTH_SECRET")
    if not secret:
        raise MissingSecret(
            "CSRF tokens need a secret: set App(secret=...) or the NEXPRESS_SECRET (or"
            " AUTH_SECRET) environment variable, e.g. python -c 'import secrets;"
            " print(secrets.token_urlsafe(32))'"
        )
    return secret


def has_secret(holder: HasSecret) -> bool:
    """Whether :func:`secret_for` has a secret to give."""
    return bool(holder.secret or os.environ.get("AUTH_SECRET"))


def _cookie_of(req: Request) -> str | None:
    return req.cookies.get(cookie_name(req.secure))


def token_for(req: Request, res: Response, secret: str | None = None) -> str:
    """This request's CSRF token. When the browser has no valid cookie yet, a new
    token is issued and its cookie set on ``res`` (HttpOnly, SameSite=Lax, for the
    browser session). Call it as often as you like: one token per request."""
    chosen = req.scope.get(_SCOPE_KEY)
    if chosen is not None:
        return chosen
    key = secret or secret_for(req.ctx)
    token = token_from_cookie(key, _cookie_of(req))
    if token is None:
        token = new_token()
        secure = req.secure
        res.cookie(cookie_name(secure), cookie_value(key, token), secure=secure, http_only=True, same_site="lax", path="/")
    req.scope[_SCOPE_KEY] = token
    return token


_FORM_TYPES = (b"application/x-www-form-urlencoded", b"multipart/form-data")


async def submitted_token(req: Request, field: str = FIELD, header: str = HEADER) -> str | None:
    """The token a request carries: the ``x-csrf-token`` header, else the
    ``csrfToken`` field of a urlencoded or multipart body (JSON bodies use the header)."""
    value = req.headers.get(header)
    if value:
        return value
    content_type = (req.headers.raw_get(b"content-type") or b"").split(b";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        form = await req.form()
        found = form.get(field)
        return found if isinstance(found, str) else None
    return None


async def check_request(req: Request, secret: str | None = None, field: str = FIELD, header: str = HEADER) -> None:
    """Raise ``HTTPError(403)`` unless the request repeats the token of its CSRF cookie."""
    key = secret or secret_for(req.ctx)
    cookie = _cookie_of(req)
    if token_from_cookie(key, cookie) is None:
        raise HTTPError(
            403,
            "Missing or invalid CSRF cookie: load the form (or GET /api/auth/csrf) first, with cookies enabled",
            title="CSRF check failed",
        )
    if not verify(key, cookie, await submitted_token(req, field, header)):
        raise HTTPError(
            403,
            f"Missing or wrong CSRF token: send the token in the {field!r} form field or the {header} header",
            title="CSRF check failed",
        )


def hidden_input(token: str, field: str = FIELD) -> str:
    """The hidden form field carrying ``token`` (HTML, escaped)."""
    return f'<input type="hidden" name="{html.escape(field)}" value="{html.escape(token)}">'
