"""``_()``, ``gettext``, ``ngettext``, ``pgettext``, ``npgettext`` and their lazy
variants, in the locale of the running render or handler (:mod:`.context`).

The lazy variants (``lazy_gettext``...) return a string-like proxy translated
when it is used: for module-level constants (a menu, form labels) defined before
any request has a locale. Templates get the same functions through Jinja2's i18n
extension (:mod:`.templates`).
"""

from __future__ import annotations

from typing import Any

from .._optional import require
from ..http.context import current_context
from .catalogs import Catalogs
from .context import current_locale

__all__ = [
    "_",
    "activate_catalogs",
    "active_catalogs",
    "gettext",
    "lazy_gettext",
    "lazy_ngettext",
    "lazy_pgettext",
    "ngettext",
    "npgettext",
    "pgettext",
    "translations",
]

_catalogs: Catalogs | None = None


def activate_catalogs(catalogs: Catalogs | None) -> None:
    """Make ``catalogs`` the ones the functions below read in code that runs for no
    app (a script, a test); inside an app's call they read that app's."""
    global _catalogs
    _catalogs = catalogs


def active_catalogs() -> Catalogs | None:
    """The catalogs of the app this code runs for (two apps in one process keep their
    own), else what :func:`activate_catalogs` set."""
    context = current_context()
    return context.catalogs if context is not None else _catalogs


def translations(locale: str | None = None) -> Any:
    """The ``babel.support.Translations`` of ``locale`` (default: the current one)."""
    catalogs = active_catalogs()
    if catalogs is None:
        support = require("babel.support", "i18n", "Message catalogs")
        return support.NullTranslations()
    return catalogs.translations(locale or current_locale())


def _format(text: str, variables: dict[str, Any]) -> str:
    return text % variables if variables else text


# --- the translation alone (templates: Jinja2's newstyle wrappers fill placeholders) ---


def translate(message: str) -> str:
    """``message`` in the current locale, placeholders left as they are."""
    catalogs = active_catalogs()
    if catalogs is None:
        return message
    locale = current_locale()
    text = catalogs.translations(locale).gettext(message)
    if catalogs.debug and text is message:
        catalogs.note_missing(locale, message)
    return text


def translate_plural(singular: str, plural: str, n: int) -> str:
    """The plural form for ``n`` under the current locale's rules, unformatted."""
    catalogs = active_catalogs()
    if catalogs is None:
        return singular if n == 1 else plural
    locale = current_locale()
    text = catalogs.translations(locale).ngettext(singular, plural, n)
    if catalogs.debug and (text is singular or text is plural):
        catalogs.note_missing(locale, singular)
    return text


def translate_in(context: str, message: str) -> str:
    """``message`` translated for ``context``, unformatted."""
    catalogs = active_catalogs()
    return message if catalogs is None else catalogs.translations(current_locale()).pgettext(context, message)


def translate_plural_in(context: str, singular: str, plural: str, n: int) -> str:
    """:func:`translate_plural` within ``context``."""
    catalogs = active_catalogs()
    if catalogs is None:
        return singular if n == 1 else plural
    return catalogs.translations(current_locale()).npgettext(context, singular, plural, n)


# --- the public functions ------------------------------------------------------------------


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the current locale (the source text when it has no translation);
    ``%(name)s`` placeholders are filled from ``variables``."""
    return _format(translate(message), variables)


_ = gettext


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    """The plural form for ``n`` under the current locale's plural rules (French:
    0 and 1 singular; Polish: three forms...); ``%(num)s`` is ``n``."""
    return translate_plural(singular, plural, n) % {"num": n, **variables}


def pgettext(context: str, message: str, **variables: Any) -> str:
    """``message`` as translated for ``context`` (one word, several meanings)."""
    return _format(translate_in(context, message), variables)


def npgettext(context: str, singular: str, plural: str, n: int, **variables: Any) -> str:
    """:func:`ngettext` within ``context``."""
    return translate_plural_in(context, singular, plural, n) % {"num": n, **variables}


def _lazy(fn: Any, *args: Any, **kwargs: Any) -> Any:
    support = require("babel.support", "i18n", "Lazy translations")
    return support.LazyProxy(fn, *args, enable_cache=False, **kwargs)


def lazy_gettext(message: str, **variables: Any) -> Any:
    """:func:`gettext`, translated each time it is used as a string."""
    return _lazy(gettext, message, **variables)


def lazy_ngettext(singular: str, plural: str, n: int, **variables: Any) -> Any:
    """:func:`ngettext`, translated each time it is used."""
    return _lazy(ngettext, singular, plural, n, **variables)


def lazy_pgettext(context: str, message: str, **variables: Any) -> Any:
    """:func:`pgettext`, translated each time it is used."""
    return _lazy(pgettext, context, message, **variables)
