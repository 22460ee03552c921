"""Encrypted tokens (JWE, ``dir`` + ``A256GCM``, joserfc) with keys derived from the
secret, and ID-token validation against a provider's JWKS. Pure functions.

Each purpose gets its own key: HKDF-SHA256 over the secret with the cookie name as
salt (as Auth.js does), so a value encrypted for one cookie never decrypts as
another. With several secrets (rotation), the first encrypts and any decrypts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry
from joserfc.jwk import KeySet, OctKey
from joserfc.jws import JWSRegistry

__all__ = [
    "IdTokenError", "decrypt", "derive_key", "encrypt", "hash_token", "mac_key", "sign_id", "signed_id",
    "validate_id_token",
]  # fmt: skip

_JWE = JWERegistry(algorithms=["dir", "A256GCM"])
_JWE_ALGORITHMS = ["dir", "A256GCM"]
_MAX_TOKEN = 8192


@lru_cache(maxsize=64)
def derive_key(secret: str, salt: str) -> OctKey:
    """A 256-bit key for ``salt``'s purpose, derived from ``secret`` (HKDF-SHA256)."""
    raw = HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=salt.encode("utf-8"),
        info=f"nexpress auth encryption key ({salt})".encode(),
    ).derive(secret.encode("utf-8"))
    return OctKey.import_key(raw)


def encrypt(claims: dict[str, Any], secrets: Sequence[str], salt: str, max_age: int, now: float | None = None) -> str:
    """``claims`` as a compact JWE that expires after ``max_age`` seconds."""
    issued = int(time.time() if now is None else now)
    payload = {**claims, "iat": issued, "exp": issued + max_age}
    return jwt.encode({"alg": "dir", "enc": "A256GCM"}, payload, derive_key(secrets[0], salt), registry=_JWE)


def decrypt(token: str | None, secrets: Sequence[str], salt: str, now: float | None = None) -> dict[str, Any] | None:
    """The claims of a JWE made by :func:`encrypt`, or None when it is missing,
    forged, made with another key or purpose, or expired."""
    if not token or len(token) > _MAX_TOKEN or token.count(".") != 4:
        return None
    for secret in secrets:
        try:
            claims = jwt.decode(token, derive_key(secret, salt), registry=_JWE).claims
        except (JoseError, ValueError, TypeError):
            continue
        exp = claims.get("exp")
        if not isinstance(exp, (int, float)) or exp <= (time.time() if now is None else now):
            return None
        return claims
    return None


def hash_token(token: str, secret: str) -> str:
    """What a database stores for a token it must recognise but never reveal
    (magic links, session ids): SHA-256 of token and secret, hex."""
    return hashlib.sha256(f"{token}{secret}".encode()).hexdigest()


def mac_key(secret: str, salt: str) -> bytes:
    """A 256-bit HMAC key for ``salt``'s purpose (HKDF-SHA256, as :func:`derive_key`)."""
    return HKDF(
        algorithm=hashes.SHA256(),
        length=32,
        salt=salt.encode("utf-8"),
        info=f"nexpress auth mac key ({salt})".encode(),
    ).derive(secret.encode("utf-8"))


_MAC_CHARS = 22  # 16 bytes of HMAC-SHA256, base64url without padding
_MAX_ID = 128


def _mac(ident: bytes, key: bytes) -> bytes:
    return base64.urlsafe_b64encode(hmac.digest(key, ident, "sha256")[:16])[:_MAC_CHARS]  # one-shot C HMAC


def sign_id(ident: str, key: bytes) -> str:
    """``<ident>.<mac>``: a random id a forger cannot make up (session cookies), so a
    made-up one is refused before any database query."""
    return f"{ident}.{_mac(ident.encode('ascii'), key).decode('ascii')}"


def signed_id(value: str, key: bytes) -> bool:
    """True when ``value`` is ``<ident>.<mac>`` made by :func:`sign_id` with ``key``
    (a few microseconds; constant-time compare)."""
    if len(value) > _MAX_ID + 1 + _MAC_CHARS or len(value) < 20 + 1 + _MAC_CHARS:
        return False
    ident, dot, mac = value.rpartition(".")
    if not dot or len(mac) != _MAC_CHARS:
        return False
    try:
        raw = ident.encode("ascii")
        given = mac.encode("ascii")
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(_mac(raw, key), given)


class IdTokenError(ValueError):
    """An ID token failed validation; the message says which check."""


_ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]
_LEEWAY = 60


def validate_id_token(
    token: str,
    *,
    jwks: dict[str, Any],
    issuer: str,
    client_id: str,
    nonce: str | None,
    algorithms: Sequence[str] | None = None,
    client_secret: str | None = None,
    now: float | None = None,
    max_age: int = 3600 * 24,
) -> dict[str, Any]:
    """Verify an OIDC ID token (signature against ``jwks``, ``iss``, ``aud``,
    ``azp``, ``exp``, ``iat``, ``nonce``) and return its claims.

    ``alg: none`` is never accepted; HS256 only with ``client_secret`` and only when
    ``algorithms`` allows it. Raises :class:`IdTokenError` naming the failed check.
    """
    if not isinstance(token, str) or token.count(".") != 2 or len(token) > _MAX_TOKEN:
        raise IdTokenError("the ID token is not a compact JWS")
    allowed = [a for a in (algorithms or ["RS256"]) if a != "none"]
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError) as exc:
        raise IdTokenError(f"the ID token cannot be parsed: {exc}") from None
    alg = header.get("alg")
    if alg not in allowed:
        raise IdTokenError(f"the ID token is signed with {alg!r}, not one of {allowed}")
    if alg.startswith("HS"):
        if not client_secret:
            raise IdTokenError("an HS-signed ID token needs the client secret")
        key: Any = OctKey.import_key(client_secret.encode("utf-8"))
    else:
        try:
            key = KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise IdTokenError(f"the provider's JWKS is unusable: {exc}") from None
    try:
        claims = jwt.decode(token, key, algorithms=[alg], registry=JWSRegistry(algorithms=[alg])).claims
    except (JoseError, ValueError, TypeError) as exc:
        raise IdTokenError(f"the ID token signature does not verify: {exc}") from None
    _check_claims(claims, issuer=issuer, client_id=client_id, nonce=nonce, now=time.time() if now is None else now, max_age=max_age)
    return claims


def _check_claims(claims: dict[str, Any], *, issuer: str, client_id: str, nonce: str | None, now: float, max_age: int) -> None:
    if claims.get("iss") != issuer:
        raise IdTokenError(f"iss is {claims.get('iss')!r}, expected {issuer!r}")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if client_id not in audiences:
        raise IdTokenError(f"aud {aud!r} does not include the client id {client_id!r}")
    if len(audiences) > 1 and claims.get("azp") != client_id:
        raise IdTokenError(f"azp {claims.get('azp')!r} is not the client id with several audiences")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not isinstance(exp, (int, float)) or isinstance(exp, bool):
        raise IdTokenError("the ID token has no exp")
    if exp + _LEEWAY <= now:
        raise IdTokenError(f"the ID token expired {int(now - exp)} s ago")
    if not isinstance(iat, (int, float)) or isinstance(iat, bool):
        raise IdTokenError("the ID token has no iat")
    if iat - _LEEWAY > now or now - iat > max_age:
        raise IdTokenError("the ID token's iat is out of range")
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise IdTokenError("the ID token has no sub")
    if nonce is not None and claims.get("nonce") != nonce:
        raise IdTokenError("nonce does not match the one sent with the sign-in request")
