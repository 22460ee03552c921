"""File routes under ``/<locale>/...``: what ``App(i18n=...)`` does to the route
table, decided once at start-up (an app without i18n never runs any of this).

Every page (and its server actions) is declared once per locale: ``/fr/blog`` and,
for the default locale, ``/blog`` (``/en/blog`` with ``prefix_default=True``). Each
is an ordinary route with its own cache entry and prerender, and ``req.locale``
comes from the URL, so a cached page can never be served in the wrong language.
Unprefixed URLs:

- ``prefix_default=True``: every unprefixed page URL is a 307 to the visitor's
  locale (:class:`LocaleRedirect`), with ``Vary: Accept-Language, Cookie``.
- ``prefix_default=False``: unprefixed URLs are the default locale's pages; ``/``
  alone sends a visitor who prefers another locale there (:class:`RootNegotiation`)
  and says ``Vary`` on both headers. A client without ``Accept-Language`` (a
  crawler) gets the default locale, never a redirect.

``GET /_nexpress/locale/<locale>?path=...`` (:class:`LocaleSwitch`) remembers a
choice made in a language switcher in the ``NEXPRESS_LOCALE`` cookie.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..http.errors import HTTPError
from ..http.locales import COOKIE, I18nConfig
from ..http.paths import local_path
from ..middleware.chain import Middleware
from ..routing.endpoint import Endpoint
from ..routing.router import RouteDef
from .context import reset_locale, use_locale
from .urls import SWITCH_PREFIX

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response
    from ..middleware.chain import Next

__all__ = ["InLocale", "LocaleRedirect", "LocaleSwitch", "RootNegotiation", "locale_scope", "localize"]

PAGE_KINDS = ("static", "isr", "dynamic")
VARY = ("Accept-Language", "Cookie")
COOKIE_MAX_AGE = 365 * 24 * 3600


@contextlib.contextmanager
def locale_scope(locale: str | None) -> Iterator[None]:
    """``with locale_scope(req.locale):`` ``_()`` and ``format_*`` use that locale
    (route.py and Express handlers; pages and actions are already inside one)."""
    token = use_locale(locale)
    try:
        yield
    finally:
        reset_locale(token)


def _target(req: Request, path: str) -> str:
    """``path`` under the app's mount point, with the request's query string."""
    root = (req.scope.get("root_path") or "").rstrip("/")
    query = req.query_string
    return root + path + ("?" + query if query else "")


def _negotiated(res: Response) -> None:
    """The answer depended on the visitor's cookie and Accept-Language."""
    for field in VARY:
        res.vary(field)


class LocaleRedirect(Endpoint):
    """An unprefixed page URL (``prefix_default=True``): 307 to the visitor's locale."""

    response_kind = "html"

    def __init__(self, config: I18nConfig, source: str) -> None:
        self.config = config
        self.__qualname__ = f"locale redirect ({source})"

    async def __call__(self, req: Request, res: Response) -> None:
        locale = req.preferred_locale or self.config.default
        _negotiated(res)
        res.set("cache-control", "private, no-cache")
        res.redirect(_target(req, self.config.url(req.raw_path, locale)), 307)


class RootNegotiation(Middleware):
    """``/`` of the default locale (``prefix_default=False``): a visitor who prefers
    another locale goes there (307); everyone else gets the page, which says that
    the answer depended on ``Accept-Language`` and ``Cookie``."""

    def __init__(self, config: I18nConfig) -> None:
        self.config = config

    async def __call__(self, req: Request, res: Response, next: Next) -> None:
        _negotiated(res)
        locale = req.preferred_locale or self.config.default
        if locale != self.config.default:
            res.set("cache-control", "private, no-cache")
            res.redirect(_target(req, self.config.url("/", locale)), 307)
            return
        await next()

    def __repr__(self) -> str:
        return "locale negotiation (i18n)"


class InLocale(Endpoint):
    """Run an endpoint (a page's server actions) in the request's locale, so ``_()``
    in the action speaks it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.response_kind = getattr(inner, "response_kind", "")
        self.__qualname__ = getattr(inner, "__qualname__", "endpoint")

    async def __call__(self, req: Request, res: Response) -> Any:
        token = use_locale(req.locale)
        try:
            return await self.inner(req, res)
        finally:
            reset_locale(token)


class LocaleSwitch(Endpoint):
    """``GET /_nexpress/locale/:locale?path=/blog``: keep the choice in the
    ``NEXPRESS_LOCALE`` cookie and 303 to that page in that locale (a path on this
    site only: anything else goes to the locale's home page)."""

    response_kind = "html"

    def __init__(self, config: I18nConfig) -> None:
        self.config = config
        self.__qualname__ = "locale switch (i18n)"

    async def __call__(self, req: Request, res: Response) -> None:
        locale = self.config.by_lower.get(str(req.params.get("locale", "")).lower())
        if locale is None or locale not in self.config.locales:
            raise HTTPError(404, f"Unknown locale: the locales are {', '.join(self.config.locales)}")
        path = local_path(req.query.get("path")) or "/"
        res.cookie(COOKIE, locale, max_age=COOKIE_MAX_AGE, http_only=False, same_site="lax", path="/")
        res.set("cache-control", "no-store")
        root = (req.scope.get("root_path") or "").rstrip("/")
        res.redirect(root + self.config.url(path, locale), 303)


def _localized_pattern(locale: str, pattern: str) -> str:
    return f"/{locale}" if pattern == "/" else f"/{locale}{pattern}"


def localize(routes: list[RouteDef], config: I18nConfig) -> list[RouteDef]:
    """The file routes with every page and action route once per locale, the
    unprefixed redirects or root negotiation, and the locale switch."""
    out: list[RouteDef] = []
    for definition in routes:
        is_page = definition.kind in PAGE_KINDS and definition.method == "GET"
        is_action = definition.kind == "action"
        if not (is_page or is_action):
            out.append(definition)
            continue
        handlers = definition.handlers
        if is_action:
            handlers = (*handlers[:-1], InLocale(handlers[-1]))
        for locale in config.locales:
            if config.prefixed(locale):
                out.append(replace(definition, pattern=_localized_pattern(locale, definition.pattern), handlers=handlers))
            elif is_page and definition.pattern == "/":
                out.append(replace(definition, handlers=(RootNegotiation(config), *handlers)))
            else:
                out.append(replace(definition, handlers=handlers))
        if is_page and config.prefix_default:
            source = definition.source or definition.site
            out.append(RouteDef("GET", definition.pattern, (LocaleRedirect(config, source),), {}, definition.site, "handler", f"{source} (redirect to the visitor's locale)"))
    switch = RouteDef("GET", SWITCH_PREFIX + ":locale", (LocaleSwitch(config),), {}, "nexpress.i18n", "handler", "nexpress.i18n (language switcher)")
    out.append(switch)
    return out
