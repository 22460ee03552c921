"""``sessions()``: ``req.session``, as Express's ``cookie-session`` / ``express-session``.

    app.use(sessions(secret=os.environ["NEXPRESS_SECRET"]))                       # in a signed cookie
    app.use(sessions(secret=..., store="redis://127.0.0.1:6379/0"))              # server-side

    @app.post("/login")
    async def login(req):
        ...
        req.session.regenerate()          # a new id after sign-in (session fixation)
        req.session["user_id"] = user.id
        return {"ok": True}

``req.session`` is a dict-like object of JSON values. It is saved, and the cookie
sent, only when its content changed (nested changes count: the content is
compared, not just assignments), when it was regenerated or destroyed, or on
every response with ``rolling=True``. Without ``store`` the data lives in the
cookie, signed with itsdangerous (readable by the client, not forgeable; at most
4 KiB). With a store the cookie holds only a signed random id; the data lives in
Redis (shared by every instance) or in this process (``"memory://"``, for
development). A forged, expired or oversized cookie is simply no session.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import msgspec
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer

from ..http.errors import HTTPError
from ._common import LoopRedis, store_errors, store_kind
from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["MemorySessionStore", "RedisSessionStore", "Session", "SessionTooLarge", "Sessions", "sessions"]

log = logging.getLogger("nexpress.sessions")

DEFAULT_MAX_AGE = 14 * 24 * 3600
COOKIE_LIMIT = 4096  # bytes of name=value browsers keep per cookie
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(dict).decode


class SessionTooLarge(RuntimeError):
    """The session does not fit in a cookie."""


def new_session_id() -> str:
    """256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


class Session(MutableMapping[str, Any]):
    """``req.session``: a dict of JSON values plus ``regenerate()`` and ``destroy()``.

    ``id`` is the server-side session id (None in cookie sessions); ``is_new`` is
    true when the request brought no valid session.
    """

    __slots__ = ("_data", "_loaded", "destroyed", "id", "is_new", "regenerated", "retired_id")

    def __init__(self, data: dict[str, Any] | None = None, loaded: bytes = b"{}", id: str | None = None) -> None:
        self._data: dict[str, Any] = data if data is not None else {}
        self._loaded = loaded
        self.id = id
        self.is_new = data is None
        self.regenerated = False
        self.destroyed = False
        self.retired_id: str | None = None  # a stored id to delete when saving

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.destroyed = False
        self._data[key] = value

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Session({self._data!r})"

    def regenerate(self) -> None:
        """Start a new session: empty data and (server-side) a new id, the old one
        deleted when the response is saved. Call it when a user signs in, so an id
        planted before sign-in (session fixation) is worthless."""
        self._data.clear()
        self.regenerated = True
        self._rotate_id()

    def destroy(self) -> None:
        """End the session: data removed from the store and the cookie cleared.
        Data set afterwards in the same request starts a new session, with a new id."""
        self._data.clear()
        self.destroyed = True
        self._rotate_id()

    def _rotate_id(self) -> None:
        if self.id is None:
            return  # cookie sessions have no id
        if not self.is_new and self.retired_id is None:
            self.retired_id = self.id  # the stored one, deleted when saving
        self.id = new_session_id()

    def stored_ids(self) -> list[str]:
        """Ids that may exist in the store for this session (to delete on destroy)."""
        if self.retired_id is not None:
            return [self.retired_id]  # the current id is a fresh, unsaved one
        return [] if self.is_new or self.id is None else [self.id]

    def encoded(self) -> bytes:
        """The data as JSON; a value that is not JSON-able is an error naming its key."""
        try:
            return _encode(self._data)
        except TypeError as exc:
            bad = [k for k, v in self._data.items() if not _json_able(v)]
            raise TypeError(
                f"req.session values must be JSON values (str, int, float, bool, None, list,"
                f" dict); {', '.join(map(repr, bad)) or 'a value'} is not: {exc}"
            ) from None

    @property
    def changed(self) -> bool:
        """Whether saving is needed: content differs from what was loaded, or a
        regenerate/destroy is pending."""
        return self.regenerated or self.destroyed or self.encoded() != self._loaded


def _json_able(value: Any) -> bool:
    try:
        _encode(value)
    except TypeError:
        return False
    return True


# --- server-side stores --------------------------------------------------------------------


class MemorySessionStore:
    """Sessions in this process (``store="memory://"``): lost on restart, not shared."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.entries: dict[str, tuple[float, bytes]] = {}
        self._swept = clock()

    async def get(self, sid: str) -> bytes | None:
        found = self.entries.get(sid)
        if found is None:
            return None
        if found[0] <= self.clock():
            del self.entries[sid]
            return None
        return found[1]

    async def set(self, sid: str, data: bytes, ttl: int) -> None:
        now = self.clock()
        if now - self._swept > 60:
            self._swept = now
            for key in [k for k, (expires, _) in self.entries.items() if expires <= now]:
                del self.entries[key]
        self.entries[sid] = (now + ttl, data)

    async def touch(self, sid: str, ttl: int) -> None:
        found = self.entries.get(sid)
        if found is not None:
            self.entries[sid] = (self.clock() + ttl, found[1])

    async def delete(self, sid: str) -> None:
        self.entries.pop(sid, None)

    async def close(self) -> None:
        self.entries.clear()


class RedisSessionStore:
    """Sessions in Redis, one key per session with the max age as its TTL."""

    def __init__(self, url: str, prefix: str = "nx:sess:") -> None:
        self.redis = LoopRedis(url)
        self.prefix = prefix

    async def get(self, sid: str) -> bytes | None:
        return await self.redis.client().get(self.prefix + sid)

    async def set(self, sid: str, data: bytes, ttl: int) -> None:
        await self.redis.client().set(self.prefix + sid, data, ex=ttl)

    async def touch(self, sid: str, ttl: int) -> None:
        await self.redis.client().expire(self.prefix + sid, ttl)

    async def delete(self, sid: str) -> None:
        await self.redis.client().delete(self.prefix + sid)

    async def close(self) -> None:
        await self.redis.close()


SessionStore = MemorySessionStore | RedisSessionStore


# --- the middleware ------------------------------------------------------------------------


def _store_unavailable(exc: BaseException) -> HTTPError:
    log.warning("sessions: store unavailable: %s", exc)
    return HTTPError(503, "The session store is unavailable; try again shortly", headers={"retry-after": "5"})


class Sessions(Middleware):
    """The middleware ``sessions()`` returns (see the module docstring)."""

    def __init__(
        self,
        secrets_: list[str],
        store: SessionStore | None,
        cookie_name: str,
        max_age: int,
        rolling: bool,
        cookie_options: dict[str, Any],
    ) -> None:
        keys = list(reversed(secrets_))  # itsdangerous signs with the last, express-session the first
        self.serializer = URLSafeTimedSerializer(keys, salt="nexpress.session", signer_kwargs={"digest_method": hashlib.sha256})
        self.signer = Signer(keys, salt="nexpress.session.id", digest_method=hashlib.sha256)
        self.store = store
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.rolling = rolling
        self.cookie_options = cookie_options

    # --- loading -------------------------------------------------------------------

    async def load(self, req: Request) -> Session:
        raw = req.peek_cookie(self.cookie_name)  # the handler reading req.session marks it
        if self.store is None:
            return self._from_cookie(raw) if raw and len(raw) <= 2 * COOKIE_LIMIT else Session()
        stored_id = self._signed_id(raw)
        if stored_id is not None:
            try:
                stored = await self.store.get(stored_id)
            except store_errors() as exc:
                raise _store_unavailable(exc) from None
            data = None if stored is None else _decode_data(stored)
            if data is not None:
                return Session(data, stored, stored_id)  # type: ignore[arg-type]
        # no session, or one that expired or was destroyed: never adopt that id again
        return Session(id=new_session_id())

    def _signed_id(self, raw: str | None) -> str | None:
        if not raw or len(raw) > 2 * COOKIE_LIMIT:
            return None
        try:
            return self.signer.unsign(raw).decode("ascii")
        except (BadSignature, UnicodeDecodeError):
            return None

    def _from_cookie(self, raw: str) -> Session:
        try:
            payload = self.serializer.loads(raw, max_age=self.max_age)
        except BadSignature:  # includes SignatureExpired
            return Session()
        if not isinstance(payload, dict):
            return Session()
        return Session(payload, _encode(payload))

    # --- saving ----------------------------------------------------------------------

    async def save(self, req: Request, res: Response, session: Session) -> None:
        changed = session.changed
        if not changed and not (self.rolling and not session.is_new):
            return
        if session.destroyed or (changed and len(session) == 0):
            await self._forget(session)
            if not session.is_new:
                res.clear_cookie(self.cookie_name, path=self.cookie_options["path"], domain=self.cookie_options["domain"])
            return
        if self.store is None:
            value = self.serializer.dumps(dict(session))
        else:
            await self._store(session, changed)
            value = self.signer.sign(session.id or "").decode("ascii")
        size = len(self.cookie_name) + 1 + len(value)
        if size > COOKIE_LIMIT:
            raise SessionTooLarge(
                f"the session cookie {self.cookie_name!r} would be {size} bytes; browsers keep"
                f" {COOKIE_LIMIT}: store less in req.session, or keep sessions server-side"
                " with sessions(store='redis://...')"
            )
        res.cookie(self.cookie_name, value, max_age=self.max_age, **self.cookie_options)

    async def _store(self, session: Session, changed: bool) -> None:
        assert self.store is not None and session.id is not None
        try:
            if session.retired_id is not None:
                await self.store.delete(session.retired_id)
                session.retired_id = None
            if changed:
                await self.store.set(session.id, session.encoded(), self.max_age)
            else:
                await self.store.touch(session.id, self.max_age)
        except store_errors() as exc:
            raise _store_unavailable(exc) from None

    async def _forget(self, session: Session) -> None:
        if self.store is None:
            return
        try:
            for stored_id in session.stored_ids():
                await self.store.delete(stored_id)
        except store_errors() as exc:
            raise _store_unavailable(exc) from None
        session.retired_id = None

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        session = await self.load(req)
        req.session = session
        try:
            await next()
        except Exception:
            # saved whatever the outcome, as express-session does when the response
            # ends; a failure here must not hide the error being handled
            try:
                await self.save(req, res, session)
            except Exception:
                log.exception("sessions: could not save the session of a failed request")
            raise
        await self.save(req, res, session)

    async def close(self) -> None:
        """Close the store's connections (e.g. from ``app.on_shutdown``)."""
        if self.store is not None:
            await self.store.close()

    def __repr__(self) -> str:
        kind = "cookie" if self.store is None else type(self.store).__name__
        return f"sessions(cookie_name={self.cookie_name!r}, store={kind})"


def _decode_data(stored: bytes) -> dict[str, Any] | None:
    try:
        return _decode(stored)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def sessions(
    secret: str | list[str],
    *,
    store: str | None = None,
    cookie_name: str = "nx.session",
    max_age: int = DEFAULT_MAX_AGE,
    rolling: bool = False,
    same_site: str = "lax",
    secure: bool | None = None,
    http_only: bool = True,
    path: str = "/",
    domain: str | None = None,
    prefix: str = "nx:sess:",
) -> Sessions:
    """Sessions on ``req.session`` (replaces ``cookie-session`` without ``store``,
    ``express-session`` with one).

    ``secret``: signs the cookie; a list rotates secrets (the first signs, all
    verify). ``store``: None (the data in a signed cookie), ``"memory://"`` or a
    Redis URL. ``max_age``: seconds a session lives after its last save (default
    14 days); ``rolling=True`` saves (and so extends) it on every response.
    ``secure=None`` sets Secure on HTTPS requests (``req.secure``). ``prefix``:
    the Redis key prefix.
    """
    if not _COOKIE_NAME.match(cookie_name):
        raise ValueError(f"sessions(cookie_name={cookie_name!r}): use letters, digits and !#$%&'*+-.^_`|~")
    if same_site.lower() not in ("lax", "strict", "none"):
        raise ValueError(f"sessions(same_site={same_site!r}): use 'lax', 'strict' or 'none'")
    keys = [secret] if isinstance(secret, str) else list(secret)
    if not keys or not all(isinstance(k, str) and k for k in keys):
        raise ValueError(
            "sessions(secret=...) needs a non-empty secret (or a list of them), e.g."
            " os.environ['NEXPRESS_SECRET']; generate one with: python -c"
            " 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    if not isinstance(max_age, int) or max_age <= 0:
        raise ValueError(f"sessions(max_age=...) must be seconds (an int > 0), not {max_age!r}")
    backend: SessionStore | None = None
    if store is not None:
        backend = MemorySessionStore() if store_kind(store, "sessions(store=...)") == "memory" else RedisSessionStore(store, prefix)
    options = {"same_site": same_site, "secure": secure, "http_only": http_only, "path": path, "domain": domain}
    return Sessions(keys, backend, cookie_name, max_age, rolling, options)
