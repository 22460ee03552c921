"""What ``req.auth`` holds: a :class:`Session` with a :class:`User` and ``expires``."""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

__all__ = ["Session", "SessionCache", "User", "utc"]


def utc(value: datetime) -> datetime:
    """An aware UTC datetime (SQLite hands back naive ones)."""
    if value.tzinfo is UTC:
        return value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User:
    """The signed-in user: ``id``, ``name``, ``email``, ``image``. The ``session``
    callback may add attributes (``session.user.role = "admin"``)."""

    def __init__(self, id: str, name: str | None = None, email: str | None = None, image: str | None = None, **extra: Any) -> None:
        self.id = id
        self.name = name
        self.email = email
        self.image = image
        self.__dict__.update(extra)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    if TYPE_CHECKING:  # what the ``session`` callback added (``user.role``): any attribute

        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def __repr__(self) -> str:
        return f"User(id={self.id!r}, email={self.email!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, User) and other.to_dict() == self.to_dict()

    __hash__ = None  # type: ignore[assignment]


class Session:
    """``req.auth``: ``.user`` and ``.expires`` (aware UTC datetime). The ``session``
    callback may add attributes; :meth:`to_dict` is what ``GET /api/auth/session``
    returns."""

    def __init__(self, user: User, expires: datetime, **extra: Any) -> None:
        self.user = user
        self.expires = utc(expires)
        self.__dict__.update(extra)

    if TYPE_CHECKING:  # what the ``session`` callback added: any attribute

        def __getattr__(self, name: str) -> Any: ...
        def __setattr__(self, name: str, value: Any) -> None: ...

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if key.startswith("_"):
                continue
            if key == "user":
                out["user"] = value.to_dict() if isinstance(value, User) else value
            elif key == "expires":
                out["expires"] = value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            else:
                out[key] = value
        return out

    def __repr__(self) -> str:
        return f"Session(user={self.user!r}, expires={self.expires.isoformat()})"


class SessionCache:
    """Recently seen sessions, so a request does not pay a database query or a JWE
    decryption for a cookie this process checked moments ago. An LRU of at most
    ``size`` entries; an entry is trusted for ``ttl`` seconds (the clock is passed in)."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def get(self, key: str, now: float) -> Any | None:
        found = self._entries.get(key)
        if found is None:
            return None
        if now - found[0] >= self.ttl:
            del self._entries[key]
            return None
        return found[1]

    def put(self, key: str, value: Any, now: float) -> None:
        if self.ttl <= 0:
            return
        entries = self._entries
        entries[key] = (now, value)
        entries.move_to_end(key)
        if len(entries) > self.size:
            entries.popitem(last=False)

    def drop(self, key: str) -> None:
        self._entries.pop(key, None)
