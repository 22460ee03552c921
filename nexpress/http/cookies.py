"""Cookies: parsing the Cookie header, formatting Set-Cookie, and signing values with
itsdangerous (HMAC-SHA256), as pure functions.

The signed value format follows Express's cookie-parser: ``s:<value>.<signature>``.
"""

from __future__ import annotations

import hashlib
from email.utils import formatdate
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import quote

from .errors import BadRequest
from .headers import TOKEN
from .paths import percent_decode

if TYPE_CHECKING:  # itsdangerous loads with the first signed cookie (an app without a secret never pays it)
    from itsdangerous import Signer


@lru_cache(maxsize=8)
def _signer(secret: str | bytes) -> Signer:
    from itsdangerous import Signer

    return Signer(secret, salt="nexpress.cookie", digest_method=hashlib.sha256, key_derivation="hmac")


def _bad_signature() -> type[Exception]:
    from itsdangerous import BadSignature  # loaded by _signer already

    return BadSignature


def sign(secret: str | bytes, value: str) -> str:
    """Return ``value`` with its signature appended."""
    return _signer(secret).sign(value).decode("utf-8")


def unsign(secret: str | bytes, signed: str) -> str | None:
    """The original value if the signature is valid, else None."""
    try:
        return _signer(secret).unsign(signed).decode("utf-8")
    except (_bad_signature(), UnicodeDecodeError):  # evaluated only when one is raised
        return None


def _cookie_text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # kept as it arrived, byte for byte


def parse_cookie_header(raw: bytes) -> dict[str, str]:
    """Parse a Cookie header. Pairs without '=' are skipped (as browsers do). A value
    with bad percent-escapes or bytes that are not UTF-8 is kept as it arrived
    (non-UTF-8 bytes read as Latin-1), as Express's cookie-parser does: one odd
    cookie set by another app on the domain (``promo=50%off``) must not make every
    request that reads cookies fail."""
    cookies: dict[str, str] = {}
    for chunk in raw.split(b";"):
        name, sep, value = chunk.partition(b"=")
        if not sep:
            continue
        name = name.strip()
        value = value.strip()
        if len(value) >= 2 and value[:1] == b'"' and value[-1:] == b'"':
            value = value[1:-1]
        key = _cookie_text(name)
        if not key or key in cookies:
            continue
        text = _cookie_text(value)
        if "%" in text:
            try:
                text = percent_decode(text, f"cookie {key!r}")
            except BadRequest:
                pass  # not percent-encoding after all: the raw value
        cookies[key] = text
    return cookies


_COOKIE_CACHE_LIMIT = 4096  # longer Cookie headers are parsed every time, never kept


def cookie_pairs(raw: bytes) -> tuple[tuple[str, str], ...]:
    """:func:`parse_cookie_header` as (name, value) pairs, kept for the last few
    hundred distinct headers: a visitor sends the same Cookie header with every
    request (a session token of a few hundred bytes), so parsing it once is enough."""
    if len(raw) > _COOKIE_CACHE_LIMIT:
        return tuple(parse_cookie_header(raw).items())
    return _cached_cookie_pairs(raw)


@lru_cache(maxsize=512)
def _cached_cookie_pairs(raw: bytes) -> tuple[tuple[str, str], ...]:
    return tuple(parse_cookie_header(raw).items())


_COOKIE_VALUE_SAFE = "!#$&'()*+-./:<>?@[]^_`{|}~"


def format_set_cookie(
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    expires: float | None = None,
    path: str | None = "/",
    domain: str | None = None,
    secure: bool = False,
    http_only: bool = True,
    same_site: str | None = "lax",
    partitioned: bool = False,
) -> str:
    """Format one Set-Cookie header value. Names must be tokens; values are
    percent-encoded, so a value can never inject attributes or headers."""
    if not TOKEN.match(name):
        raise ValueError(f"invalid cookie name {name!r}: use letters, digits and !#$%&'*+-.^_`|~")
    parts = [f"{name}={quote(value, safe=_COOKIE_VALUE_SAFE)}"]
    if max_age is not None:
        parts.append(f"Max-Age={int(max_age)}")
        if expires is None:
            import time

            expires = time.time() + int(max_age)
    if expires is not None:
        parts.append(f"Expires={formatdate(expires, usegmt=True)}")
    for label, item in (("Path", path), ("Domain", domain)):
        if item is not None:
            if any(c in item for c in ";\r\n\x00"):
                raise ValueError(f"invalid cookie {label.lower()} {item!r}")
            parts.append(f"{label}={item}")
    if name.lower().startswith(("__secure-", "__host-")):
        secure = True  # browsers drop prefixed cookies (even deletions) without Secure
    if same_site is not None:
        normal = same_site.lower()
        if normal not in ("lax", "strict", "none"):
            raise ValueError(f"same_site must be 'lax', 'strict' or 'none', not {same_site!r}")
        if normal == "none":
            secure = True  # browsers reject SameSite=None without Secure
        parts.append(f"SameSite={normal.capitalize()}")
    if secure:
        parts.append("Secure")
    if http_only:
        parts.append("HttpOnly")
    if partitioned:
        parts.append("Partitioned")
    return "; ".join(parts)
