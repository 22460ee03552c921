"""``locale_url(path, locale)``: the URL of a page in another locale, for language
switchers and ``hreflang`` alternates."""

from __future__ import annotations

from urllib.parse import quote

from ..http.locales import I18nConfig
from ..http.paths import local_path
from .context import active_config

__all__ = ["SWITCH_PREFIX", "alternates", "locale_url"]

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
