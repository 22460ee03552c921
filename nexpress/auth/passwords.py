"""Password hashing for ``Credentials`` sign-in: Argon2id (argon2-cffi, its
recommended parameters). ``verify_password`` takes argon2's order: (hash, password).

An unknown user must cost what a known one costs, or the response time tells who has
an account: pass ``None`` as the hash and a dummy hash is verified instead. Argon2 takes
~50 ms of CPU on purpose: ``await verify_password_async(...)`` runs it in a thread, so
the event loop keeps serving other requests meanwhile."""

from __future__ import annotations

import asyncio
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "needs_rehash", "verify_password", "verify_password_async"]

_hasher = PasswordHasher()  # Argon2id, RFC 9106's low-memory profile


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (salted; store it as is)."""
    if not isinstance(password, str) or not password:
        raise ValueError("hash_password needs a non-empty str")
    return _hasher.hash(password)


@functools.cache
def _dummy_hash() -> str:
    """A hash of a random password nobody knows, with the current parameters: what an
    unknown user's sign-in is verified against (made once, on first use)."""
    return _hasher.hash(secrets.token_urlsafe(32))


def verify_password(hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``hash``; False for a wrong password or a
    malformed hash (never raises for bad input). ``hash=None`` (no such user) verifies
    against a dummy hash and returns False, taking as long as a real check. Blocks
    for ~50 ms: from async code use :func:`verify_password_async`."""
    if not isinstance(password, str):
        return False
    if hash is None:
        _verify(_dummy_hash(), password)
        return False
    if not isinstance(hash, str):
        return False
    return _verify(hash, password)


def _verify(hash: str, password: str) -> bool:
    try:
        return _hasher.verify(hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password_async(hash: str | None, password: str) -> bool:
    """:func:`verify_password` in a worker thread (argon2 releases the GIL): what an
    ``authorize`` should await, with ``hash=None`` for an unknown user."""
    return await asyncio.to_thread(verify_password, hash, password)


def needs_rehash(hash: str) -> bool:
    """True when ``hash`` was made with older parameters: hash the password again
    after a successful sign-in."""
    return _hasher.check_needs_rehash(hash)
