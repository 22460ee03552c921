"""``cors()``: Cross-Origin Resource Sharing, as Express's ``cors`` package.

    app.use(cors(origins=["https://app.example"], credentials=True))

Preflights (``OPTIONS`` with ``Access-Control-Request-Method``) are answered with
204 and the allowed methods and headers; other requests get
``Access-Control-Allow-Origin`` when their origin is allowed. An origin is never
reflected unchecked: ``origins="*"`` sends the literal ``*`` and cannot be combined
with ``credentials=True``; regexes must match the whole origin; ``null`` is only
allowed when listed as the string ``"null"``.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..http.calls import is_async_callable
from ..http.headers import TOKEN
from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["Cors", "OriginPolicy", "cors", "matches_any_origin", "origin_is_well_formed", "origin_policy"]

log = logging.getLogger("nexpress.cors")

OriginCheck = Callable[[str, "Request"], bool | Awaitable[bool]]
Origins = str | re.Pattern[str] | Iterable[str | re.Pattern[str]] | OriginCheck

DEFAULT_METHODS = ("GET", "HEAD", "PUT", "PATCH", "POST", "DELETE")

# scheme "://" host [":" port], as browsers serialise an origin (RFC 6454): no path,
# no userinfo, no whitespace, nothing that could end a header
_ORIGIN = re.compile(r"[a-z][a-z0-9+.\-]*://(\[[0-9a-f:.]+\]|[a-z0-9\-._~%]+)(:[0-9]{1,5})?\Z", re.IGNORECASE)
_MAX_ORIGIN = 2048
# origins no real allow-list names: a pattern or callable that accepts one of these
# accepts any site
_IMPROBABLE_ORIGINS = ("https://evil.invalid", "http://nexpress-cors-probe.invalid:31337")


def origin_is_well_formed(origin: str) -> bool:
    """True for ``null`` and for a serialised origin (``https://host[:port]``)."""
    return origin == "null" or (len(origin) <= _MAX_ORIGIN and _ORIGIN.match(origin) is not None)


def _check_tokens(values: Iterable[str], what: str) -> tuple[str, ...]:
    checked = []
    for value in values:
        if not isinstance(value, str) or not TOKEN.match(value):
            raise ValueError(f"cors({what}=...): {value!r} is not a valid header token")
        checked.append(value)
    return tuple(checked)


def _check_origin_entry(entry: str) -> str:
    if entry == "null":
        return entry
    if not origin_is_well_formed(entry):
        hint = " (drop the trailing slash)" if entry.endswith("/") else ""
        raise ValueError(
            f"cors(origins=...): {entry!r} is not an origin{hint}; write scheme://host[:port],"
            " e.g. 'https://app.example'"
        )
    return entry.lower()


@dataclass(frozen=True)
class OriginPolicy:
    """Which origins may read responses: ``any_origin`` (``*``), exact origins
    (lower-case), whole-origin regexes, or a callable."""

    any_origin: bool = False
    exact: frozenset[str] = frozenset()
    patterns: tuple[re.Pattern[str], ...] = ()
    check: OriginCheck | None = None
    check_is_async: bool = False

    async def allowed(self, origin: str | None, req: Request) -> str | None:
        """The value for ``Access-Control-Allow-Origin``, or None (not allowed)."""
        if self.any_origin:
            return "*"
        if origin is None or not origin_is_well_formed(origin):
            return None
        if origin == "null":
            # sandboxed iframes, file:// pages and some redirects all say "null":
            # allow it only when it was asked for by name
            return origin if "null" in self.exact else None
        if self.check is not None:
            verdict = self.check(origin, req)
            if self.check_is_async:
                verdict = await verdict  # type: ignore[misc]
            return origin if verdict is True else None
        if origin.lower() in self.exact or any(p.fullmatch(origin) for p in self.patterns):
            return origin
        return None


def origin_policy(origins: Origins, credentials: bool) -> OriginPolicy:
    """Check the ``origins`` option (at start-up) and turn it into a policy."""
    if origins == "*":
        if credentials:
            raise ValueError(
                "cors(origins='*', credentials=True) would let every site read your users'"
                " responses (and browsers refuse it); list the allowed origins instead"
            )
        return OriginPolicy(any_origin=True)
    if callable(origins) and not isinstance(origins, re.Pattern):
        return OriginPolicy(check=origins, check_is_async=is_async_callable(origins))
    entries = [origins] if isinstance(origins, (str, re.Pattern)) else list(origins)  # type: ignore[arg-type]
    if "*" in entries:
        raise ValueError("cors(origins=...): '*' cannot be one entry of a list; pass origins='*'")
    if not all(isinstance(e, (str, re.Pattern)) for e in entries):
        raise TypeError("cors(origins=...): list entries must be str or re.Pattern")
    return OriginPolicy(
        exact=frozenset(_check_origin_entry(e) for e in entries if isinstance(e, str)),
        patterns=tuple(e for e in entries if isinstance(e, re.Pattern)),
    )


def _verdict_now(check: OriginCheck, origin: str) -> bool | None:
    """What ``check`` says of ``origin`` without a request or an event loop: None
    when it cannot tell (it raised, needs the request, or awaits something)."""
    try:
        verdict = check(origin, None)  # type: ignore[arg-type]
    except Exception:
        return None
    if inspect.iscoroutine(verdict):
        try:
            verdict.send(None)  # an async check that awaits nothing finishes at once
        except StopIteration as done:
            return done.value is True
        except Exception:
            return None
        verdict.close()  # it awaited something: cannot tell without a loop
        return None
    return verdict is True


def matches_any_origin(policy: OriginPolicy) -> str | None:
    """The first regex (its pattern) or callable (its name) that allows an origin no
    allow-list names (``https://evil.invalid``...), or None: such an entry, with
    credentials, lets every site read signed-in users' responses."""
    for probe in _IMPROBABLE_ORIGINS:
        for pattern in policy.patterns:
            if pattern.fullmatch(probe):
                return f"re.compile({pattern.pattern!r})"
        if policy.check is not None and _verdict_now(policy.check, probe):
            return getattr(policy.check, "__qualname__", repr(policy.check))
    return None


class Cors(Middleware):
    """The middleware ``cors()`` returns (see the module docstring)."""

    def __init__(
        self,
        policy: OriginPolicy,
        credentials: bool,
        methods: str,
        headers: str | None,
        expose: str,
        max_age: str | None,
        preflight_continue: bool,
    ) -> None:
        self.policy = policy
        self.credentials = credentials
        self.methods = methods
        self.headers = headers
        self.expose = expose
        self.max_age = max_age
        self.preflight_continue = preflight_continue

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        allow = await self.policy.allowed(req.headers.get("origin"), req)
        if not self.policy.any_origin:
            res.vary("Origin")  # the answer depends on Origin, even without one
        if allow is not None:
            res.set("access-control-allow-origin", allow)
            if self.credentials:
                res.set("access-control-allow-credentials", "true")
        if req.method == "OPTIONS" and req.headers.get("access-control-request-method") is not None:
            if allow is not None:
                self._preflight_headers(req, res)
            if self.preflight_continue:
                await next()
                return
            res.status(204).end()
            return
        if allow is not None and self.expose:
            res.set("access-control-expose-headers", self.expose)
        await next()

    def _preflight_headers(self, req: Request, res: Response) -> None:
        res.set("access-control-allow-methods", self.methods)
        if self.headers is not None:
            allowed = self.headers
        else:  # as the cors package: allow what the browser asks for (a list of tokens)
            asked = req.headers.get("access-control-request-headers") or ""
            names = [n.strip() for n in asked.split(",") if n.strip()]
            allowed = ",".join(n for n in names if TOKEN.match(n))
            res.vary("Access-Control-Request-Headers")
        if allowed:
            res.set("access-control-allow-headers", allowed)
        if self.max_age is not None:
            res.set("access-control-max-age", self.max_age)

    def __repr__(self) -> str:
        policy = self.policy
        if policy.any_origin:
            origins = "'*'"
        elif policy.check is not None:
            origins = getattr(policy.check, "__qualname__", repr(policy.check))
        else:
            origins = repr(sorted(policy.exact) + [p.pattern for p in policy.patterns])
        return f"cors(origins={origins}, credentials={self.credentials})"


def cors(
    origins: Origins = "*",
    *,
    credentials: bool = False,
    methods: Iterable[str] = DEFAULT_METHODS,
    headers: Iterable[str] | None = None,
    expose: Iterable[str] = (),
    max_age: int | None = None,
    preflight_continue: bool = False,
) -> Cors:
    """CORS middleware (replaces Express's ``cors`` package).

    ``origins``: ``"*"`` (any origin, no credentials), an origin string, a compiled
    regex matched against the whole origin, a list mixing both, or a callable
    ``(origin, req) -> bool`` (sync or async). ``credentials`` sends
    ``Access-Control-Allow-Credentials: true``. ``methods`` and ``headers`` are what
    preflights allow (``headers=None`` allows the headers the browser asks for);
    ``expose`` lists response headers scripts may read; ``max_age`` lets browsers
    cache a preflight for that many seconds. ``preflight_continue=True`` passes
    preflights on to your own ``OPTIONS`` handlers instead of answering 204.
    """
    if max_age is not None and (not isinstance(max_age, int) or max_age < 0):
        raise ValueError(f"cors(max_age=...) must be seconds (an int >= 0), not {max_age!r}")
    policy = origin_policy(origins, credentials)
    if credentials:
        culprit = matches_any_origin(policy)
        if culprit is not None:
            log.warning(
                "cors(credentials=True): %s allows any origin (it accepts %s), so every site"
                " can read your signed-in users' responses; list the origins"
                " (origins=['https://app.example']) or anchor the pattern"
                " (re.compile(r'https://([a-z0-9-]+\\.)?example\\.com'))",
                culprit,
                _IMPROBABLE_ORIGINS[0],
            )
    return Cors(
        policy,
        credentials,
        ",".join(_check_tokens(methods, "methods")),
        None if headers is None else ",".join(_check_tokens(headers, "headers")),
        ",".join(_check_tokens(expose, "expose")),
        None if max_age is None else str(max_age),
        preflight_continue,
    )
