"""``Auth``: configuration, installation (``app.use(auth)``), sessions, sign-in
completion and the middleware that sets ``req.auth``.

The endpoints themselves are in :mod:`nexpress.auth.endpoints`; OAuth in
:mod:`nexpress.auth.oauth`; the tables in :mod:`nexpress.auth.db`.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
import os
import re
import secrets as _random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlencode

import httpx

from ..app import App
from ..http import csrf
from ..http.errors import HTTPError
from ..http.request import Request
from ..http.scope import no_body
from ..middleware._common import store_errors, store_kind, store_or_shared_cache
from ..middleware.chain import Middleware
from ..middleware.sessions import MemorySessionStore, RedisSessionStore
from ..openapi import SESSION_SECURITY
from ..routing import Plugin, Router
from . import tokens
from .db import Database
from .endpoints import build_router
from .errors import SIGNIN_PAGE_ERRORS, AuthConfigError, MissingSecret, SignInError, UntrustedHost
from .providers import Credentials, Email, Provider
from .ratelimit import FailureLimiter
from .session import Session, SessionCache, User
from .urls import normalise_origin, origin_of_request, same_origin

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from ..http.response import Response

__all__ = ["Auth"]

logger = logging.getLogger("nexpress.auth")

DAY = 24 * 3600
CALLBACK_NAMES = ("sign_in", "redirect", "session", "jwt")
PAGE_NAMES = ("signin", "signout", "error", "verify_request")
SESSION_ID_SALT = "nexpress.session-id"


def _cached_session(expires: datetime, user: dict[str, Any], renew_after: int) -> tuple[datetime, float, float, dict[str, Any]]:
    """What the session cache keeps for a database session: its expiry as a datetime
    (for ``Session.expires``) and as POSIX seconds, the time after which it is extended
    (``update_age`` after it was last extended), and the user's columns."""
    expires_at = expires.timestamp()
    return expires, expires_at, expires_at - renew_after, user


@functools.cache
def _cookie_name(name: str, secure: bool) -> str:
    """``nexpress.<name>``, or ``__Secure-nexpress.<name>`` over HTTPS (built once:
    every request reads the session cookie)."""
    return f"__Secure-nexpress.{name}" if secure else f"nexpress.{name}"


def _accepted(fn: Callable) -> set[str] | None:
    """Keyword names ``fn`` takes (None: it takes ``**kwargs``, so everything)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


class _Hook:
    """A user callback or event, called with the keyword arguments it declares."""

    def __init__(self, name: str, fn: Callable) -> None:
        if not callable(fn):
            raise AuthConfigError(f"{name} must be a function, not {fn!r}")
        self.name = name
        self.fn = fn
        self.names = _accepted(fn)

    async def __call__(self, **available: Any) -> Any:
        kwargs = available if self.names is None else {k: v for k, v in available.items() if k in self.names}
        result = self.fn(**kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result


def _join(prefix: str, path: str) -> str:
    return ("/" + "/".join(p for p in (prefix.strip("/"), path.strip("/")) if p)) or "/"


def _expires_in(seconds: int) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def _normal_email(email: Any) -> str | None:
    return email.strip().lower() if isinstance(email, str) and email.strip() else None


class AuthMiddleware(Middleware):
    """Sets ``req.auth`` from the session cookie on every request (installed by
    ``app.use(auth)``); extends a rolling session once a day."""

    def __init__(self, auth: Auth) -> None:
        self.auth = auth

    @property
    def secret_needed(self) -> str | None:  # type: ignore[override]
        """Auth without its own secret (``Auth(secret=...)``/``AUTH_SECRET``) takes the app's."""
        return None if self.auth.has_own_secret else "nexpress.auth (Auth without secret=)"

    def __repr__(self) -> str:
        return "auth"

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        if req.headers.raw_get(b"cookie") is not None:
            await self.auth.load_session(req, res)
        await next()


class RequiredMiddleware(Middleware):
    """``auth.required``: lets signed-in requests through; browsers asking for HTML
    are redirected to sign-in (with a callback URL), everything else gets 401."""

    openapi_security = SESSION_SECURITY

    def __init__(self, auth: Auth) -> None:
        self.auth = auth

    def __repr__(self) -> str:
        return "auth.required"

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        if req.auth is not None:
            await next()
            return
        if req.method in ("GET", "HEAD") and req.accepts("json", "html") == "html":
            res.redirect(self.auth.signin_url(req.original_url))
            return
        raise HTTPError(401, "Sign in to use this", headers={"www-authenticate": "Session"})


class Auth(Plugin):
    """Authentication, shaped like Auth.js. See ``docs/auth.md``.

    ``app.use(auth)`` mounts the endpoints under ``base_path`` and a middleware
    that sets ``req.auth`` (None or a :class:`Session`) for every request.

    Main options: ``providers``; ``session`` (``"database"``, the default, or
    ``"jwt"``); ``db`` (SQLAlchemy URL or AsyncEngine; default
    ``sqlite:///auth.db`` in the app's folder when a database is needed);
    ``secret`` (or ``AUTH_SECRET``/the app's secret; a list rotates keys);
    ``url`` (or ``AUTH_URL``) / ``trust_host`` (or ``AUTH_TRUST_HOST``);
    ``pages`` (``{"signin": "/login", ...}``); ``callbacks`` (``sign_in``,
    ``redirect``, ``session``, ``jwt``); events ``on_sign_in``/``on_sign_out``;
    ``allow_email_linking``; ``session_cache_ttl`` (5 s: how long this process
    trusts a database session it looked up, or that a JWT session was not revoked; 0
    asks on every request); ``max_failed_sign_ins``, ``failed_sign_in_window`` and
    ``failed_sign_in_store`` (default: the app's cache store when it is Redis, else this
    process's memory); ``revocation_store`` (JWT sign-outs: ``"memory://"`` or
    ``"redis://..."``; default the app's cache URL when it is Redis, else memory).
    """

    def __init__(
        self,
        providers: Sequence[Provider] = (),
        *,
        db: str | AsyncEngine | None = None,
        session: str = "database",
        secret: str | Sequence[str] | None = None,
        base_path: str = "/api/auth",
        url: str | None = None,
        trust_host: bool | None = None,
        pages: Mapping[str, str] | None = None,
        callbacks: Mapping[str, Callable[..., Any]] | None = None,
        on_sign_in: Callable[..., Any] | None = None,
        on_sign_out: Callable[..., Any] | None = None,
        allow_email_linking: bool = False,
        max_age: int = 30 * DAY,
        update_age: int = DAY,
        max_failed_sign_ins: int = 5,
        failed_sign_in_window: int = 15 * 60,
        failed_sign_in_store: str | None = None,
        table_prefix: str = "",
        session_cache_ttl: float = 5.0,
        revocation_store: str | None = None,
    ) -> None:
        if session not in ("database", "jwt"):
            raise AuthConfigError(f"session={session!r}: use 'database' or 'jwt'")
        self.providers: dict[str, Provider] = {}
        for provider in providers:
            if not isinstance(provider, Provider):
                raise AuthConfigError(f"{provider!r} is not a provider (OAuth, OIDC, GitHub, Google, Credentials, Email)")
            if provider.id in self.providers:
                raise AuthConfigError(f"two providers have the id {provider.id!r}; give one id=...")
            self.providers[provider.id] = provider
        self.strategy = session
        needs_db = session == "database" or any(isinstance(p, Email) for p in providers)
        if needs_db and db is None:
            db = "sqlite:///auth.db"
        self.db_url = db
        self.database: Database | None = None
        self.table_prefix = table_prefix
        if table_prefix and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,30}", table_prefix):
            raise AuthConfigError(f"table_prefix {table_prefix!r} must be letters, digits and '_'")
        self._secret_option = [secret] if isinstance(secret, str) else list(secret or [])
        self.secrets: list[str] = []
        self.session_key = b""  # HMAC key of database session ids (start-up: from the secret)
        self.base_path = "/" + base_path.strip("/")
        self.base = self.base_path
        url = url or os.environ.get("AUTH_URL") or None
        try:
            self.origin = normalise_origin(url) if url else None
        except ValueError as exc:
            raise AuthConfigError(f"Auth(url=...)/AUTH_URL: {exc}") from None
        env_trust = os.environ.get("AUTH_TRUST_HOST", "").lower() in ("1", "true", "yes", "on")
        self.trust_host = trust_host if trust_host is not None else env_trust
        self.pages = dict(pages or {})
        unknown = set(self.pages) - set(PAGE_NAMES)
        if unknown:
            raise AuthConfigError(f"unknown page(s) {sorted(unknown)} in pages=...; known: {list(PAGE_NAMES)}")
        for name, path in self.pages.items():
            if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
                raise AuthConfigError(f"pages[{name!r}] must be a path on this site like '/login', not {path!r}")
        callbacks = dict(callbacks or {})
        unknown = set(callbacks) - set(CALLBACK_NAMES)
        if unknown:
            raise AuthConfigError(f"unknown callback(s) {sorted(unknown)}; known: {list(CALLBACK_NAMES)}")
        self.callbacks = {name: _Hook(name, fn) for name, fn in callbacks.items()}
        self.events = {name: _Hook(name, fn) for name, fn in (("on_sign_in", on_sign_in), ("on_sign_out", on_sign_out)) if fn}
        self.allow_email_linking = allow_email_linking
        self.max_age = max_age
        self.update_age = update_age
        self.failed_sign_in_store = failed_sign_in_store
        try:
            self.limiter = FailureLimiter(
                max_failed_sign_ins, failed_sign_in_window, store=failed_sign_in_store or "memory://", prefix=f"nx:auth:{table_prefix}fail:"
            )
        except ValueError as exc:
            raise AuthConfigError(str(exc)) from None
        # database sessions seen in the last few seconds (0: query on every request);
        # JWT sessions decrypted once per distinct cookie
        self.session_cache = SessionCache(session_cache_ttl)
        self.token_cache = SessionCache(float("inf"))
        # JWT sessions signed out (their "jti"): a denylist in a store every instance
        # shares, asked at most once per session_cache_ttl per session on each process
        if revocation_store is not None:
            try:
                store_kind(revocation_store, "Auth(revocation_store=...)")
            except ValueError as exc:
                raise AuthConfigError(str(exc)) from None
        self.revocation_url = revocation_store
        self.revocations: MemorySessionStore | RedisSessionStore | None = None
        self.revoked_cache = SessionCache(session_cache_ttl)
        self.app: App | None = None
        self.http: httpx.AsyncClient | None = None
        self.started = False
        self._start_lock = asyncio.Lock()
        self.middleware = AuthMiddleware(self)
        self.required = RequiredMiddleware(self)

    # --- installation and lifecycle ---------------------------------------------------

    def install(self, router: Router, prefix: str) -> None:
        """``app.use(auth)``: the endpoints under ``prefix + base_path``, the
        ``req.auth`` middleware for every request, start-up and shutdown handlers."""
        if not isinstance(router, App):
            raise TypeError("install Auth on the application itself: app.use(auth) (or app.use('/prefix', auth))")
        if router.auth is not None and router.auth is not self:
            raise AuthConfigError("this app already has an Auth installed; one per app")
        self.app = router
        router.auth = self
        self.base = _join(prefix, self.base_path)
        if self.failed_sign_in_store is None:  # the app's Redis, if any: one count for every instance
            self.limiter.use_store(store_or_shared_cache(None, router.cache_url))
        router.use(self.middleware)
        router.use(self.base, build_router(self))
        router.on_startup(self.start)
        router.on_shutdown(self.stop)

    @property
    def has_own_secret(self) -> bool:
        """``Auth(secret=...)`` or ``AUTH_SECRET`` is set (else the app's secret is used)."""
        return bool(self._secret_option or os.environ.get("AUTH_SECRET"))

    def _check_site_url(self) -> None:
        """SPEC 6: without ``url=`` or ``trust_host=`` the site's URL is unknown; a
        production start-up refuses, naming both settings (dev trusts the Host)."""
        if self.origin is not None or self.trust_host:
            return
        if self.app is not None and self.app.debug:
            logger.warning(
                "nexpress.auth: no Auth(url=...)/AUTH_URL and no trust_host: trusting the request's Host"
                " header because this is a debug (nexpress dev) run; `nexpress start` refuses to start like"
                " this: set Auth(url=...)/AUTH_URL or Auth(trust_host=True)/AUTH_TRUST_HOST=1"
            )
            return
        raise UntrustedHost(
            "nexpress.auth cannot tell the site's URL (OAuth callbacks, sign-in redirects): set"
            " Auth(url='https://your.site') (or the AUTH_URL environment variable), or"
            " Auth(trust_host=True) (AUTH_TRUST_HOST=1) when your server or proxy guarantees the Host header."
        )

    def _resolve_secrets(self) -> list[str]:
        found = self._secret_option or [s for s in (os.environ.get("AUTH_SECRET"), self.app.secret if self.app else None) if s]
        if not found:
            raise MissingSecret(
                "nexpress.auth needs a secret (MissingSecret): pass Auth(secret=...), or set AUTH_SECRET"
                " (or App(secret=...)/NEXPRESS_SECRET); make one with"
                " python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        for value in found:
            if not isinstance(value, str) or len(value) < 16:
                raise AuthConfigError("the auth secret must be a str of at least 16 characters (32 random bytes is right)")
        return found

    def _check_magic_link_origin(self) -> None:
        """Magic links are built from ``url=`` only (SPEC 6): a link built from the
        ``Host`` header would let ``Host: evil.example`` mail a victim a live token
        pointing at the attacker's site, whatever ``trust_host`` says."""
        if self.origin is None:
            emails = [p.id for p in self.providers.values() if isinstance(p, Email)]
            if emails:
                raise AuthConfigError(
                    f"the Email provider {emails[0]!r} builds magic links from Auth(url=...) only, and none is"
                    " set: pass Auth(url='https://your.site') or set AUTH_URL (trust_host does not apply:"
                    " a forged Host header would choose where the link points)"
                )

    async def start(self) -> None:
        """Start-up: check the configuration, create the tables, open the HTTP client."""
        if self.started:
            return
        self._check_magic_link_origin()
        self.secrets = self._resolve_secrets()
        self._check_site_url()
        self.session_key = tokens.mac_key(self.secrets[0], SESSION_ID_SALT)
        if self.app is not None and not self.app.secret:
            self.app.secret = self.secrets[0]  # one secret for CSRF tokens, signed cookies and actions
        if self.db_url is not None and self.database is None:
            root = self.app.root if self.app is not None else os.getcwd()
            self.database = Database(self.db_url, root, self.table_prefix)
            try:
                await self.database.create_tables()
            except Exception as exc:
                raise AuthConfigError(f"cannot create the auth tables in db={self.db_url!r}: {type(exc).__name__}: {exc}") from exc
        if self.strategy == "jwt" and self.revocations is None:
            self.revocations = self._revocation_store()
        if self.http is None:
            self.http = httpx.AsyncClient(timeout=10.0, follow_redirects=False)
        self.started = True

    def _revocation_store(self) -> MemorySessionStore | RedisSessionStore:
        """``revocation_store=``, else the app's cache store when it is Redis (what
        several instances share), else this process's memory."""
        url = store_or_shared_cache(self.revocation_url, self.app.cache_url if self.app is not None else None)
        if store_kind(url, "Auth(revocation_store=...)") == "redis":
            return RedisSessionStore(url, prefix="nx:auth:revoked:")
        return MemorySessionStore()

    async def stop(self) -> None:
        self.started = False
        await self.limiter.close()
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        if self.database is not None:
            await self.database.close()
            self.database = None
        if self.revocations is not None:
            await self.revocations.close()
            self.revocations = None

    # --- URLs and cookies -------------------------------------------------------------

    def origin_for(self, req: Request) -> str:
        """The site's origin (``https://example.com``); raises UntrustedHost /
        AuthConfigError when it cannot be known safely."""
        if self.origin is not None:
            return self.origin
        debug = bool(self.app is not None and self.app.debug)
        return origin_of_request(req, trust_host=self.trust_host or debug)

    def secure_for(self, req: Request) -> bool:
        if self.origin is not None:
            return self.origin.startswith("https://")
        return req.secure

    @staticmethod
    def cookie_name(name: str, secure: bool) -> str:
        return _cookie_name(name, secure)

    def set_cookie(self, req: Request, res: Response, name: str, value: str, max_age: int) -> None:
        secure = self.secure_for(req)
        res.cookie(self.cookie_name(name, secure), value, max_age=max_age, http_only=True, secure=secure, same_site="lax", path="/")

    def clear_cookie(self, req: Request, res: Response, name: str) -> None:
        secure = self.secure_for(req)
        res.cookie(self.cookie_name(name, secure), "", max_age=0, expires=0, http_only=True, secure=secure, same_site="lax", path="/")

    def read_cookie(self, req: Request, name: str) -> str | None:
        # not a per-visitor read by itself: the handler reading req.auth is
        return req.peek_cookie(self.cookie_name(name, self.secure_for(req)))

    def page_url(self, page: str, **query: str | None) -> str:
        """A built-in page's URL (``signin``, ``signout``, ``error``, ``verify_request``),
        or the custom one from ``pages=``."""
        path = self.pages.get(page) or f"{self.base}/{page.replace('_', '-')}"
        params = {k: v for k, v in query.items() if v}
        if not params:
            return path
        return path + ("&" if "?" in path else "?") + urlencode(params)

    def signin_url(self, callback_url: str | None = None) -> str:
        """Where to send someone who must sign in, coming back to ``callback_url``."""
        return self.page_url("signin", callbackUrl=callback_url)

    def error_url(self, code: str, callback_url: str | None = None) -> str:
        if code in SIGNIN_PAGE_ERRORS:
            return self.page_url("signin", error=code, callbackUrl=callback_url)
        return self.page_url("error", error=code)

    async def checked_callback_url(self, req: Request, value: str | None) -> str:
        """A ``callbackUrl`` made safe: the ``redirect`` callback (default: same
        origin only) decides; refused -> 400 naming the rule. None -> ``/``."""
        if value is None or value == "":
            return "/"
        origin = self.origin_for(req)
        hook = self.callbacks.get("redirect")
        target = await hook(url=value, base_url=origin) if hook else same_origin(value, origin)
        if not target or not isinstance(target, str):
            raise HTTPError(
                400,
                f"callbackUrl must be a path on this site (/dashboard) or a URL starting with {origin}/",
                title="InvalidCallbackUrl",
            )
        return target

    def csrf_token(self, req: Request, res: Response) -> str:
        """The CSRF token for a custom sign-in form (field ``csrfToken``)."""
        return csrf.token_for(req, res)

    # --- sessions -------------------------------------------------------------------

    async def ensure_started(self, req: Request | None = None) -> None:
        """Start on first use when no lifespan ran (some servers, tests). Starting may
        set the app's secret (a new request context): ``req``, made before, gets it."""
        if not self.started:
            async with self._start_lock:
                if not self.started:
                    await self.start()
        if req is not None and self.app is not None:
            req.ctx = self.app.context

    async def session_for(self, source: Request | Mapping[str, Any]) -> Session | None:
        """The session of a request, or of an ASGI scope (``http`` or ``websocket``:
        ``ws.auth``, server actions...), or None. Read-only: never extends it."""
        if isinstance(source, Request):
            req = source
        else:
            if self.app is None:
                raise AuthConfigError("install Auth before reading sessions: app.use(auth)")
            req = Request(dict(source), no_body(), source.get("path", "/"), {}, None, self.app.context)
        if req.headers.raw_get(b"cookie") is None:
            return None
        await self.ensure_started(req)
        value = self.read_cookie(req, "session-token")
        if not value:
            return None
        session, _ = await self._session_from_cookie(value)
        return session

    async def load_session(self, req: Request, res: Response) -> None:
        """The middleware's work: ``req.auth`` from the cookie; a forged or expired
        cookie is cleared; a session older than ``update_age`` is extended."""
        value = self.read_cookie(req, "session-token")
        if not value:
            return
        if not self.started:
            await self.ensure_started(req)
        if self.strategy == "jwt":
            session, renewed = await self._jwt_session(value, True)
        else:
            session, renewed = await self._database_session(value, True)
        req.auth = session
        if session is None:
            self.clear_cookie(req, res, "session-token")
        elif renewed is not None:
            self.set_cookie(req, res, "session-token", renewed, self.max_age)

    def stored_token(self, token: str) -> str:
        """What the database keeps for a session id or magic-link token: its keyed hash
        (a leaked table holds no usable session)."""
        return tokens.hash_token(token, self.secrets[0])

    async def _session_from_cookie(self, value: str, renew: bool = False) -> tuple[Session | None, str | None]:
        """(session, new cookie value when it was extended)."""
        if self.strategy == "jwt":
            return await self._jwt_session(value, renew)
        return await self._database_session(value, renew)

    async def _database_session(self, value: str, renew: bool) -> tuple[Session | None, str | None]:
        # The cache is keyed by the cookie itself: a hit costs no HMAC, no query and no
        # datetime arithmetic (expiry and renewal times are kept as POSIX seconds). A
        # miss checks the id's MAC first: a flood of made-up ids never reaches the
        # database.
        clock = time.monotonic()
        found = self.session_cache.get(value, clock)
        if found is None:
            if not tokens.signed_id(value, self.session_key):
                return None, None  # forged or from before session ids were signed: no query
            assert self.database is not None
            row = await self.database.session_and_user(self.stored_token(value))
            if row is None:
                return None, None
            found = _cached_session(*row, self.max_age - self.update_age)
            self.session_cache.put(value, found, clock)
        expires, expires_at, renew_at, user = found
        now = time.time()
        if expires_at <= now:
            self.session_cache.drop(value)
            await self.database.delete_session(self.stored_token(value))
            return None, None
        renewed = None
        if renew and renew_at <= now:
            expires = datetime.now(UTC) + timedelta(seconds=self.max_age)
            await self.database.extend_session(self.stored_token(value), expires)
            self.session_cache.put(value, _cached_session(expires, user, self.max_age - self.update_age), clock)
            renewed = value
        session = Session(User(**user), expires)
        return await self._session_callback(session, user=user, token=None), renewed

    async def _jwt_session(self, value: str, renew: bool) -> tuple[Session | None, str | None]:
        salt = self.cookie_salt()
        known = self.token_cache.get(value, 0.0)
        if known is None:  # decrypted once per distinct cookie (a JWE cannot change)
            claims = tokens.decrypt(value, self.secrets, salt)
            if claims is None or not isinstance(claims.get("sub"), str):
                return None, None
            # with what every request would otherwise work out again from the claims
            known = _KnownToken(claims, _jwt_id(claims, value), datetime.fromtimestamp(claims["exp"], UTC))
            self.token_cache.put(value, known, 0.0)
        claims = known.claims
        now = time.time()
        if claims["exp"] <= now:
            self.token_cache.drop(value)
            return None, None
        revoked = self.revoked_cache.get(known.jti, time.monotonic())  # a dict lookup once asked
        if revoked is None:
            revoked = await self._revoked(known.jti)
        if revoked:
            return None, None
        expires = known.expires
        hook = self.callbacks.get("jwt")
        if hook is not None:
            updated = await hook(token=dict(claims), user=None, account=None, profile=None, trigger=None, is_new_user=False)
            if not updated:
                return None, None
            claims = {"jti": claims.get("jti"), **updated, "iat": claims["iat"], "exp": claims["exp"]}
        renewed = None
        if renew and claims["iat"] + self.update_age <= now:
            body = _jwt_body(claims)
            body.setdefault("jti", _jwt_id(claims, value))  # a legacy session keeps its name
            renewed = tokens.encrypt(body, self.secrets, salt, self.max_age)
            claims = tokens.decrypt(renewed, self.secrets, salt) or claims
            expires = datetime.fromtimestamp(claims["exp"], UTC)
        user = User(claims["sub"], claims.get("name"), claims.get("email"), claims.get("picture"))
        session = Session(user, expires)
        if "session" not in self.callbacks:
            return session, renewed
        return await self._session_callback(session, user=None, token=claims), renewed

    def cookie_salt(self) -> str:
        return "nexpress.session-token"

    async def _revoked(self, jti: str) -> bool:
        """Whether this JWT session was signed out (on any instance sharing the store).
        Asked once per ``session_cache_ttl`` per session; a store outage is logged and
        counts as not revoked (JWT sessions keep working without the store)."""
        clock = time.monotonic()
        known = self.revoked_cache.get(jti, clock)
        if known is not None:
            return known
        assert self.revocations is not None
        try:
            revoked = await self.revocations.get(jti) is not None
        except store_errors() as exc:
            logger.warning("nexpress.auth: the revocation store is unavailable (%s); JWT sign-outs are not checked", exc)
            revoked = False
        self.revoked_cache.put(jti, revoked, clock)
        return revoked

    async def _revoke(self, claims: Mapping[str, Any], value: str) -> None:
        """Deny this JWT session (and every renewal of it: they share its ``jti``)
        until it could no longer be valid anyway."""
        jti = _jwt_id(claims, value)
        self.revoked_cache.put(jti, True, time.monotonic())
        await self.ensure_started()
        assert self.revocations is not None
        try:
            await self.revocations.set(jti, b"1", self.max_age)
        except store_errors() as exc:
            logger.error("nexpress.auth: cannot record a JWT sign-out in the revocation store: %s", exc)

    async def _session_callback(self, session: Session, *, user: dict | None, token: dict | None) -> Session | None:
        hook = self.callbacks.get("session")
        if hook is None:
            return session
        result = await hook(session=session, user=user, token=dict(token) if token is not None else None)
        if result is None or isinstance(result, Session):
            return result
        if isinstance(result, Mapping):
            data = dict(result)
            user_data = data.pop("user", None) or session.user.to_dict()
            data.pop("expires", None)
            return Session(User(**user_data) if isinstance(user_data, Mapping) else session.user, session.expires, **data)
        raise TypeError(f"the session callback returned {type(result).__name__}; return the session (or a dict)")

    # --- completing a sign-in ------------------------------------------------------------

    async def resolve_user(self, provider: Provider, profile: dict[str, Any], account: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The user this sign-in belongs to (created or linked), and whether it is new.
        A new provider account whose email already belongs to a user is refused
        (OAuthAccountNotLinked) unless email linking is allowed. Two first sign-ins of
        one new user at once (two tabs, a double click): the loser's insert meets the
        unique email or id, and it looks again, finding the winner's user."""
        db = self.database
        if db is None:  # JWT sessions without a database: the profile is the user
            return {k: profile.get(k) for k in ("id", "name", "email", "image")}, False
        for _ in range(3):
            found = await self._find_or_create_user(db, provider, profile, account)
            if found is not None:
                return found
        raise SignInError("Default", f"could not create the user for {provider.id} account {account['provider_account_id']!r}: it kept conflicting")

    async def _find_or_create_user(
        self, db: Database, provider: Provider, profile: dict[str, Any], account: dict[str, Any]
    ) -> tuple[dict[str, Any], bool] | None:
        """One try of :meth:`resolve_user`; None when a concurrent sign-in created the
        user (or the account) between the lookups and the insert."""
        account_id = account["provider_account_id"]
        existing = await db.user_by_account(provider.id, account_id)
        if existing is not None:
            return existing, False
        if isinstance(provider, Credentials):
            same_id = await db.user_by_id(profile["id"])
            if same_id is not None:
                await db.link_account(same_id["id"], account)
                return same_id, False
        email = profile.get("email")
        if email:
            owner = await db.user_by_email(email)
            if owner is not None:
                if isinstance(provider, Email) or self.allow_email_linking or provider.allow_email_linking:
                    await db.link_account(owner["id"], account)
                    return owner, False
                raise SignInError(
                    "OAuthAccountNotLinked",
                    f"{provider.id} account {account_id!r} has the email of user {owner['id']!r}, who signs in"
                    " another way; set Auth(allow_email_linking=True) (or on the provider) to link them",
                )
        preferred = profile["id"] if isinstance(provider, Credentials) else None
        verified = datetime.now(UTC) if isinstance(provider, Email) else None
        user = await db.create_user(profile, user_id=preferred, email_verified=verified, account=account)
        return None if user is None else (user, True)

    async def complete_sign_in(
        self,
        req: Request,
        res: Response,
        provider: Provider,
        profile: dict[str, Any],
        account: dict[str, Any],
        callback_url: str,
        *,
        raw_profile: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
    ) -> str:
        """Run the ``sign_in`` callback, find or create the user, start a new session
        (the old one, if any, is revoked: the session id changes at every sign-in),
        fire ``on_sign_in``. Returns where to send the browser."""
        profile = {**profile, "email": _normal_email(profile.get("email"))}
        hook = self.callbacks.get("sign_in")
        if hook is not None:
            allowed = await hook(user=profile, account=account, profile=raw_profile, credentials=credentials, email=profile.get("email"))
            if allowed is False or allowed is None:
                raise SignInError("AccessDenied", f"the sign_in callback refused {provider.id} user {profile.get('id')!r}")
            if isinstance(allowed, str):
                callback_url = await self.checked_callback_url(req, allowed)
        user, is_new = await self.resolve_user(provider, profile, account)
        if isinstance(provider, Email) and self.database is not None:
            await self.database.mark_email_verified(user["id"], datetime.now(UTC))
        await self.end_session(req)
        if self.strategy == "database":
            assert self.database is not None
            value = tokens.sign_id(_random.token_urlsafe(32), self.session_key)
            await self.database.create_session(self.stored_token(value), user["id"], _expires_in(self.max_age))
        else:
            claims: dict[str, Any] | None = {"sub": str(user["id"]), "name": user.get("name"), "email": user.get("email"), "picture": user.get("image")}
            jwt_hook = self.callbacks.get("jwt")
            if jwt_hook is not None:
                claims = await jwt_hook(
                    token=claims, user=user, account=account, profile=raw_profile,
                    trigger="signUp" if is_new else "signIn", is_new_user=is_new,
                )  # fmt: skip
                if not claims or not isinstance(claims.get("sub"), str):
                    raise SignInError("AccessDenied", "the jwt callback returned no token (or one without 'sub')")
            claims = {**claims, "jti": _random.token_urlsafe(16)}  # what sign-out revokes
            value = tokens.encrypt(_jwt_body(claims), self.secrets, self.cookie_salt(), self.max_age)
        self.set_cookie(req, res, "session-token", value, self.max_age)
        event = self.events.get("on_sign_in")
        if event is not None:
            await event(user=user, account=account, profile=raw_profile, is_new_user=is_new)
        return callback_url

    async def end_session(self, req: Request) -> dict[str, Any] | None:
        """Revoke the request's current session (database: delete the row; JWT: its
        ``jti`` into the revocation store). Returns the JWT claims when the strategy is
        ``jwt`` (for ``on_sign_out``)."""
        value = self.read_cookie(req, "session-token")
        if not value:
            return None
        if self.strategy == "database":
            self.session_cache.drop(value)
            if self.database is not None and tokens.signed_id(value, self.session_key):
                await self.database.delete_session(self.stored_token(value))
            return None
        claims = tokens.decrypt(value, self.secrets, self.cookie_salt())
        if claims is not None:
            self.token_cache.drop(value)
            await self._revoke(claims, value)
        return claims

    async def sign_out(self, req: Request, res: Response) -> None:
        token = await self.end_session(req)
        self.clear_cookie(req, res, "session-token")
        event = self.events.get("on_sign_out")
        if event is not None:
            await event(session=req.auth, token=token)

    def fail(self, exc: SignInError, callback_url: str | None = None) -> str:
        """Log why a sign-in failed; the URL of the page that says so."""
        logger.warning("sign-in failed: %s", exc)
        return self.error_url(exc.code, callback_url)

    def credentials_account(self, provider: Credentials, fields: Mapping[str, str]) -> str:
        """The account name failed attempts are counted for: the first field, normalised."""
        first = next(iter(provider.credentials))
        return str(fields.get(first, "")).strip().lower()[:320]


class _KnownToken(NamedTuple):
    """A JWT session cookie this process decrypted: its claims, the name it is
    revoked under, and its expiry as the datetime ``Session.expires`` holds."""

    claims: dict[str, Any]
    jti: str
    expires: datetime


def _jwt_id(claims: Mapping[str, Any], value: str) -> str:
    """What identifies a JWT session for revocation: its ``jti`` (kept by renewals);
    a token from before ``jti`` existed is named by a hash of the cookie itself (and
    its renewal carries that name as its ``jti``)."""
    jti = claims.get("jti")
    return jti if isinstance(jti, str) and jti else "cookie:" + hashlib.sha256(value.encode()).hexdigest()


def _jwt_body(claims: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in ("iat", "exp") and v is not None}
