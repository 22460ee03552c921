"""Cookie signing with itsdangerous (HMAC-SHA256), as pure functions.

The cookie value format follows Express's cookie-parser: ``s:<value>.<signature>``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from itsdangerous import BadSignature, Signer


@lru_cache(maxsize=8)
def _signer(secret: str | bytes) -> Signer:
    return Signer(secret, salt="nexpress.cookie", digest_method=hashlib.sha256, key_derivation="hmac")


def sign(secret: str | bytes, value: str) -> str:
    """Return ``value`` with its signature appended."""
    return _signer(secret).sign(value).decode("utf-8")


def unsign(secret: str | bytes, signed: str) -> str | None:
    """The original value if the signature is valid, else None."""
    try:
        return _signer(secret).unsign(signed).decode("utf-8")
    except (BadSignature, UnicodeDecodeError):
        return None
