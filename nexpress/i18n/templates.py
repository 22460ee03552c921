"""The i18n helpers in Jinja2 templates: ``_()``, ``gettext``, ``ngettext``,
``pgettext``, ``npgettext`` and ``{% trans %}`` (Jinja2's i18n extension, newstyle:
``{{ _("Hello %(name)s", name=user) }}``, autoescaped), the ``format_*`` helpers
and ``locale_url``. The functions read the current locale (:mod:`.context`), so a
template compiled once serves every locale."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import formatting, messages
from .urls import locale_url

if TYPE_CHECKING:
    import jinja2

__all__ = ["install"]


HELPERS: dict[str, Any] = {
    "format_date": formatting.format_date,
    "format_datetime": formatting.format_datetime,
    "format_time": formatting.format_time,
    "format_number": formatting.format_number,
    "format_currency": formatting.format_currency,
    "format_percent": formatting.format_percent,
    "locale_url": locale_url,
}


def install(env: jinja2.Environment) -> None:
    """Add the i18n extension and the helpers to ``env`` (apps with ``App(i18n=...)``)."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=messages.translate,
        ngettext=messages.translate_plural,
        newstyle=True,  # Jinja2 fills the placeholders (and escapes them)
        pgettext=messages.translate_in,
        npgettext=messages.translate_plural_in,
    )
    env.globals.update(HELPERS)
