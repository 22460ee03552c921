"""Password hashing for ``Credentials`` sign-in: Argon2id (argon2-cffi, its
recommended parameters). ``verify_password`` takes argon2's order: (hash, password)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

__all__ = ["hash_password", "needs_rehash", "verify_password"]

_hasher = PasswordHasher()  # Argon2id, RFC 9106's low-memory profile


def hash_password(password: str) -> str:
    """An Argon2id hash of ``password`` (salted; store it as is)."""
    if not isinstance(password, str) or not password:
        raise ValueError("hash_password needs a non-empty str")
    return _hasher.hash(password)


def verify_password(hash: str, password: str) -> bool:
    """True when ``password`` matches ``hash``; False for a wrong password or a
    malformed hash (never raises for bad input). Takes about 50 ms by design: call it
    from ``authorize`` (or ``await asyncio.to_thread(verify_password, ...)``)."""
    if not isinstance(hash, str) or not isinstance(password, str):
        return False
    try:
        return _hasher.verify(hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(hash: str) -> bool:
    """True when ``hash`` was made with older parameters: hash the password again
    after a successful sign-in."""
    return _hasher.check_needs_rehash(hash)
