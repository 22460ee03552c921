"""Internationalisation: locale-prefixed routes, Babel message catalogs, locale-aware
formatting (SPEC section 12; docs/i18n.md).

    app = App(i18n={"locales": ["en", "fr"], "default": "en"})

    from nexpress.i18n import _, ngettext, format_date, locale_url
"""

from __future__ import annotations

from ..http.locales import COOKIE, I18nConfig, I18nConfigError, negotiate, parse_accept_language
from .context import current_locale
from .formatting import (
    format_currency,
    format_date,
    format_datetime,
    format_number,
    format_percent,
    format_time,
)
from .messages import (
    _,
    gettext,
    lazy_gettext,
    lazy_ngettext,
    lazy_pgettext,
    ngettext,
    npgettext,
    pgettext,
    translations,
)
from .routing import locale_scope
from .urls import alternates, locale_url

__all__ = [
    "COOKIE",
    "I18nConfig",
    "I18nConfigError",
    "_",
    "alternates",
    "current_locale",
    "format_currency",
    "format_date",
    "format_datetime",
    "format_number",
    "format_percent",
    "format_time",
    "gettext",
    "lazy_gettext",
    "lazy_ngettext",
    "lazy_pgettext",
    "locale_scope",
    "locale_url",
    "negotiate",
    "ngettext",
    "npgettext",
    "parse_accept_language",
    "pgettext",
    "translations",
]
