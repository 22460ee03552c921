"""JWT tokens (``Authorization: Token <jwt>``, HS256 with joserfc), Argon2id password
hashes (argon2-cffi), and the middleware that reads the token."""

from __future__ import annotations

import asyncio
import functools
import os
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey

from nexpress import HTTPError, Next, Request, Response
from nexpress.middleware import Middleware

TOKEN_LIFETIME = 30 * 24 * 3600
# Set JWT_SECRET in production (and the same one on every instance): tokens signed
# with this development default are worthless the moment the source is public.
SECRET = os.environ.get("JWT_SECRET") or "conduit-development-secret-change-me-0123456789"
_KEY = OctKey.import_key(SECRET)
_CLAIMS = jwt.JWTClaimsRegistry(exp={"essential": True}, sub={"essential": True})
_hasher = PasswordHasher()  # Argon2id, argon2-cffi's recommended parameters

TOKEN_SCHEME = {
    "Token": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "Token <jwt>, the token from POST /api/users or /api/users/login",
    }
}


def issue_token(user_id: int) -> str:
    now = int(time.time())
    return jwt.encode({"alg": "HS256"}, {"sub": str(user_id), "iat": now, "exp": now + TOKEN_LIFETIME}, _KEY)


def read_token(token: str) -> int | None:
    """The user id a valid, unexpired token names, else None."""
    try:
        claims = jwt.decode(token, _KEY, algorithms=["HS256"]).claims
        _CLAIMS.validate(claims)
        user_id = int(claims["sub"])
    except (JoseError, ValueError, TypeError, KeyError, UnicodeError):
        return None
    return user_id if 0 < user_id < 2**31 else None


async def hash_password(password: str) -> str:
    """Argon2id, off the event loop (hashing is deliberately slow)."""
    return await asyncio.to_thread(_hasher.hash, password)


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash("conduit: no such user")


async def verify_password(hashed: str | None, password: str) -> bool:
    """Argon2id, off the event loop. ``hashed=None`` (no such user) verifies against a
    dummy hash and fails: an unknown email costs as long as a wrong password, so the
    answer time does not tell which emails have accounts."""
    try:
        matches = await asyncio.to_thread(_hasher.verify, hashed or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and hashed is not None


def unauthorized(message: str) -> HTTPError:
    return HTTPError(401, message, headers={"www-authenticate": "Token"}, field="token")


class CurrentUser(Middleware):
    """Sets ``req.state.user_id`` from ``Authorization: Token <jwt>`` (``Bearer`` too).

    ``required=True``: no token is a 401. Either way a token that is present but
    invalid or expired is a 401. A middleware that requires authentication tells
    the OpenAPI document so through its public ``openapi_security`` attribute."""

    def __init__(self, required: bool) -> None:
        self.required = required
        self.openapi_security = TOKEN_SCHEME if required else None

    async def __call__(self, req: Request, res: Response, next: Next) -> None:
        header = req.get("authorization")
        user_id = None
        if header:
            scheme, _, token = header.strip().partition(" ")
            if scheme.lower() not in ("token", "bearer") or not token.strip():
                raise unauthorized("Send the header as: Authorization: Token <jwt>")
            user_id = read_token(token.strip())
            if user_id is None:
                raise unauthorized("The token is invalid or has expired: log in again")
        elif self.required:
            raise unauthorized("Authentication required: send Authorization: Token <jwt>")
        req.state.user_id = user_id
        await next()


require_user = CurrentUser(required=True)
optional_user = CurrentUser(required=False)
