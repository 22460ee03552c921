"""Message catalogs: Babel's layout at the app root
(``locales/<locale>/LC_MESSAGES/messages.po``, compiled to ``messages.mo``), each
locale loaded once per process.

Production loads the compiled ``.mo`` (``nexpress i18n compile``; ``nexpress build``
compiles them too). When a ``.mo`` is missing or older than its ``.po`` the ``.po``
is compiled in memory instead (with a warning outside dev, so the fix is known). In
dev every message a page asks for that its locale's catalog does not translate is
logged once (``nexpress i18n missing`` lists them all): the page shows the source text.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from typing import Any

from .._optional import require

__all__ = ["DOMAIN", "Catalogs", "babel_locale", "catalog_paths"]

DOMAIN = "messages"
FOLDER = "locales"
logger = logging.getLogger("nexpress.i18n")


def babel_locale(tag: str) -> str:
    """``pt-BR`` -> ``pt_BR``: the folder name Babel uses."""
    return tag.replace("-", "_")


def catalog_paths(root: str, locale: str) -> tuple[str, str]:
    """The ``.po`` and ``.mo`` of ``locale`` under ``root``."""
    base = os.path.join(root, FOLDER, babel_locale(locale), "LC_MESSAGES", DOMAIN)
    return base + ".po", base + ".mo"


def _mtime(path: str) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


class Catalogs:
    """The translations of one app, by locale (loaded on first use, then kept)."""

    def __init__(self, root: str, default: str, debug: bool = False) -> None:
        self.root = root
        self.default = default
        self.debug = debug
        self._loaded: dict[str, Any] = {}
        self._known: dict[str, frozenset[str]] = {}  # dev: the ids each .po translates
        self._reported: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def translations(self, locale: str) -> Any:
        """``babel.support.Translations`` for ``locale`` (a ``NullTranslations`` when it
        has no catalog: every message is its source text)."""
        found = self._loaded.get(locale)
        if found is None:
            with self._lock:
                found = self._loaded.get(locale)
                if found is None:
                    found = self._loaded[locale] = self._load(locale)
        return found

    def _load(self, locale: str) -> Any:
        support = require("babel.support", "i18n", "Message catalogs")
        po, mo = catalog_paths(self.root, locale)
        po_time, mo_time = _mtime(po), _mtime(mo)
        if mo_time is not None and (po_time is None or mo_time >= po_time) and not self.debug:
            with open(mo, "rb") as fh:
                return support.Translations(fh, domain=DOMAIN)
        if po_time is None:
            if mo_time is not None:
                with open(mo, "rb") as fh:
                    return support.Translations(fh, domain=DOMAIN)
            if locale != self.default:
                logger.warning(
                    "nexpress: no catalog for locale %r (%s): its pages show the source text. Create it with"
                    " `nexpress i18n init %s` after `nexpress i18n extract`.", locale, os.path.relpath(po, self.root), locale,
                )
            return support.NullTranslations()
        if not self.debug:
            logger.warning(
                "nexpress: %s is missing or older than its .po: compiling it in memory. Run `nexpress i18n compile`"
                " (or `nexpress build`) before deploying.", os.path.relpath(mo, self.root),
            )
        catalog = read_catalog(po, locale)
        if self.debug:
            self._known[locale] = frozenset(_message_id(m.id) for m in catalog if m.id and m.string and not m.fuzzy)
        return support.Translations(io.BytesIO(compiled(catalog)), domain=DOMAIN)

    def note_missing(self, locale: str, message: str) -> None:
        """Dev: log a message ``locale``'s catalog does not translate, once."""
        known = self._known.get(locale)
        if known is None or message in known or locale == self.default:
            return
        if (locale, message) not in self._reported:
            self._reported.add((locale, message))
            po, _ = catalog_paths(self.root, locale)
            logger.warning(
                "nexpress: no %s translation of %r in %s (the page shows the source text); run"
                " `nexpress i18n extract` and `nexpress i18n update`, then translate it",
                locale, message, os.path.relpath(po, self.root),
            )


def _message_id(value: Any) -> str:
    return value[0] if isinstance(value, (tuple, list)) else value


def read_catalog(po: str, locale: str) -> Any:
    """A ``babel.messages.Catalog`` read from a ``.po`` file."""
    pofile = require("babel.messages.pofile", "i18n", "Message catalogs")
    with open(po, "rb") as fh:
        return pofile.read_po(fh, locale=babel_locale(locale), domain=DOMAIN)


def compiled(catalog: Any) -> bytes:
    """A catalog as ``.mo`` bytes (fuzzy entries left out, as ``pybabel compile`` does)."""
    mofile = require("babel.messages.mofile", "i18n", "Message catalogs")
    out = io.BytesIO()
    mofile.write_mo(out, catalog)
    return out.getvalue()
