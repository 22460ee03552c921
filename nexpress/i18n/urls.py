"""``locale_url(path, locale)``: the URL of a page in another locale, for language
switchers and ``hreflang`` alternates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

from ..http.locales import I18nConfig, split_locale
from ..http.paths import local_path
from .context import active_config

__all__ = ["SWITCH_PREFIX", "alternates", "locale_url", "localized_sitemap"]

SWITCH_PREFIX = "/_nexpress/locale/"
"""``GET /_nexpress/locale/<locale>?path=/blog``: remember the choice (the
``NEXPRESS_LOCALE`` cookie) and go to that page in that locale."""


def _config(config: I18nConfig | None) -> I18nConfig:
    found = config or active_config()
    if found is None:
        raise RuntimeError("locale_url() needs App(i18n={...}): the app has no locales")
    return found


def locale_url(path: str, locale: str, *, remember: bool = False, config: I18nConfig | None = None) -> str:
    """``path`` (with or without a locale segment, a query allowed) in ``locale``:
    ``locale_url("/fr/blog", "en")`` is ``/blog`` (or ``/en/blog`` with
    ``prefix_default``). ``remember=True``: through ``/_nexpress/locale/`` so the
    choice is kept in the ``NEXPRESS_LOCALE`` cookie (a language switcher's links),
    and ``/`` then opens in that locale too."""
    settings = _config(config)
    if locale not in settings.locales:
        raise ValueError(f"locale_url(): {locale!r} is not one of the app's locales {list(settings.locales)}")
    target = settings.url(local_path(path) or "/", locale)
    if remember:
        return f"{SWITCH_PREFIX}{locale}?path={quote(target, safe='/')}"
    return target


def alternates(path: str, config: I18nConfig | None = None) -> dict[str, str]:
    """``{"en": "/blog", "fr": "/fr/blog", "x-default": "/blog"}``: a page's URL in every
    locale (``metadata["alternates"]["languages"]``, the sitemap's hreflang links)."""
    settings = _config(config)
    found = {locale: settings.url(path, locale) for locale in settings.locales}
    found["x-default"] = settings.url(path, settings.default)
    return found


def _split_origin(url: str) -> tuple[str, str]:
    """``https://site/blog?x`` -> ("https://site", "/blog?x"); a path -> ("", path)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return origin, path


def localized_sitemap(config: I18nConfig) -> Callable[[list[Any]], list[dict[str, Any]]]:
    """What an app with locales does to its ``sitemap()`` entries: each URL without a
    locale segment is listed in every locale, each entry naming all of them (and
    ``x-default``) as ``hreflang`` alternates. Entries with their own ``alternates``,
    or already in one locale, are kept as they are."""

    def expand(entries: list[Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for entry in entries:
            item = {"url": entry} if isinstance(entry, str) else dict(entry)
            origin, path = _split_origin(str(item["url"]))
            if item.get("alternates") or split_locale(config, path)[0] is not None:
                out.append(item)
                continue
            languages = {locale: origin + config.url(path, locale) for locale in config.locales}
            languages["x-default"] = origin + config.url(path, config.default)
            for locale in config.locales:
                if languages[locale] not in seen:
                    seen.add(languages[locale])
                    out.append({**item, "url": languages[locale], "alternates": languages})
        return out

    return expand
