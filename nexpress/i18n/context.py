"""The locale of the code running now: what ``_()``, ``format_date()`` and the
templates' ``gettext`` read, without a ``req`` to hand.

A page render, a server action and a ``route.py`` handler run inside
:func:`use_locale` with their request's locale (nexpress sets it when the app has
``App(i18n=...)``; apps without it never pay for it). Outside one, the active
configuration's default locale applies.
"""

from __future__ import annotations

import contextvars

from ..http.context import current_context
from ..http.locales import I18nConfig

__all__ = ["activate", "active_config", "current_locale", "reset_locale", "use_locale"]

_locale: contextvars.ContextVar[str | None] = contextvars.ContextVar("nexpress_locale", default=None)
_config: I18nConfig | None = None


def activate(config: I18nConfig | None) -> None:
    """Make ``config`` the i18n settings of code that runs for no app (a script, a
    test; ``App`` compiling sets its own here too)."""
    global _config
    _config = config


def active_config() -> I18nConfig | None:
    """The i18n settings of the app this code runs for (nexpress.http.context: two
    apps in one process keep their own), else what :func:`activate` set."""
    context = current_context()
    return context.i18n if context is not None else _config


def use_locale(locale: str | None) -> contextvars.Token[str | None]:
    """Run what follows (in this context) in ``locale``; undo with :func:`reset_locale`."""
    return _locale.set(locale)


def reset_locale(token: contextvars.Token[str | None]) -> None:
    _locale.reset(token)


def current_locale() -> str:
    """The locale of the running render or handler; else the default locale; else ``en``."""
    found = _locale.get()
    if found is not None:
        return found
    config = active_config()
    return config.default if config is not None else "en"
