"""``nexpress i18n extract | init | update | compile | missing``: Babel's catalog
tools (``babel.messages``) over an app's ``app/`` folder (templates and Python
files), its top-level Python files and ``views/``, with Babel's layout at the app root:

    locales/messages.pot                       extract: every message the app uses
    locales/<locale>/LC_MESSAGES/messages.po   init (new locale), update (merge the .pot)
    locales/<locale>/LC_MESSAGES/messages.mo   compile (nexpress build does it too)
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from .._optional import require
from .catalogs import DOMAIN, FOLDER, babel_locale, catalog_paths, compiled, read_catalog

__all__ = ["KEYWORDS", "CatalogStats", "compile_catalogs", "extract", "init", "locales_of", "missing", "template_path", "update"]

KEYWORDS: dict[str, Any] = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "lazy_gettext": None,
    "lazy_ngettext": (1, 2),
    "lazy_pgettext": ((1, "c"), 2),
}
"""The functions whose string arguments are messages (Python and templates)."""

METHODS = [
    ("app/**.py", "python"),
    ("app/**.html", "jinja2.ext:babel_extract"),
    ("views/**.html", "jinja2.ext:babel_extract"),
    ("*.py", "python"),
]
_OPTIONS = {"**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}
_SKIP = frozenset((".venv", "venv", "node_modules", "__pycache__", ".nexpress", ".git", "out", FOLDER))


def template_path(root: str) -> str:
    return os.path.join(root, FOLDER, DOMAIN + ".pot")


def _babel(module: str) -> Any:
    return require(module, "i18n", "nexpress i18n")


def _walk_filter(path: str) -> bool:
    name = os.path.basename(path)
    return name not in _SKIP and not name.startswith(".")


def _write_po(path: str, catalog: Any, **options: Any) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        _babel("babel.messages.pofile").write_po(fh, catalog, width=100, **options)


def extract(root: str, project: str = "app") -> tuple[str, int]:
    """Write ``locales/messages.pot`` from the app's sources; (its path, messages)."""
    extract_module = _babel("babel.messages.extract")
    catalog = _babel("babel.messages.catalog").Catalog(project=project, charset="utf-8")
    found = extract_module.extract_from_dir(
        root, METHODS, _OPTIONS, KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True, directory_filter=_walk_filter
    )
    for filename, line, message, comments, context in found:
        catalog.add(message, None, [(filename.replace(os.sep, "/"), line)], auto_comments=comments, context=context)
    path = template_path(root)
    _write_po(path, catalog, sort_by_file=True)
    return path, len(catalog)


def _template(root: str) -> Any:
    path = template_path(root)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{os.path.relpath(path, root)} does not exist: run `nexpress i18n extract` first")
    with open(path, "rb") as fh:
        return _babel("babel.messages.pofile").read_po(fh)


def init(root: str, locale: str) -> str:
    """Start ``locale``'s catalog from the template; refuses to overwrite one."""
    core = _babel("babel.core")
    try:
        parsed = core.Locale.parse(babel_locale(locale))
    except (ValueError, core.UnknownLocaleError) as exc:
        raise ValueError(f"{locale!r} is not a locale Babel knows (such as fr, de or pt-BR): {exc}") from None
    po, _ = catalog_paths(root, locale)
    if os.path.exists(po):
        raise FileExistsError(f"{os.path.relpath(po, root)} exists: use `nexpress i18n update` to merge new messages into it")
    catalog = _template(root)
    catalog.locale = parsed
    catalog.revision_date = dt.datetime.now(dt.UTC)
    catalog.fuzzy = False
    _write_po(po, catalog)
    return po


def locales_of(root: str) -> list[str]:
    """The locales with a catalog under ``locales/``."""
    folder = os.path.join(root, FOLDER)
    if not os.path.isdir(folder):
        return []
    return sorted(
        name.replace("_", "-")
        for name in os.listdir(folder)
        if os.path.isfile(os.path.join(folder, name, "LC_MESSAGES", DOMAIN + ".po"))
    )


@dataclass
class CatalogStats:
    """One locale's catalog: how many messages, how many translated, which are not."""

    locale: str
    path: str
    total: int = 0
    translated: int = 0
    untranslated: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _stats(locale: str, path: str, catalog: Any) -> CatalogStats:
    stats = CatalogStats(locale, path)
    for message in catalog:
        if not message.id:
            continue
        stats.total += 1
        strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
        if all(strings) and not message.fuzzy:
            stats.translated += 1
        else:
            text = message.id[0] if isinstance(message.id, (list, tuple)) else message.id
            stats.untranslated.append(text)
    for message, problems in catalog.check():
        for problem in problems:
            stats.errors.append(f"{path}:{message.lineno}: {problem}")
    return stats


def update(root: str, locales: list[str] | None = None) -> list[CatalogStats]:
    """Merge the template into each locale's catalog (new messages added, gone ones
    kept as obsolete, changed ones marked fuzzy)."""
    template = _template(root)
    results = []
    for locale in locales or locales_of(root):
        po, _ = catalog_paths(root, locale)
        if not os.path.isfile(po):
            raise FileNotFoundError(f"{os.path.relpath(po, root)} does not exist: run `nexpress i18n init {locale}`")
        catalog = read_catalog(po, locale)
        catalog.update(template)
        _write_po(po, catalog)
        results.append(_stats(locale, po, catalog))
    return results


def compile_catalogs(root: str, locales: list[str] | None = None) -> list[CatalogStats]:
    """Write each locale's ``.mo`` from its ``.po`` (fuzzy entries left out)."""
    results = []
    for locale in locales or locales_of(root):
        po, mo = catalog_paths(root, locale)
        catalog = read_catalog(po, locale)
        stats = _stats(locale, po, catalog)
        if not stats.errors:
            with open(mo, "wb") as fh:
                fh.write(compiled(catalog))
        results.append(stats)
    return results


def missing(root: str, locales: list[str] | None = None) -> list[CatalogStats]:
    """Each locale's untranslated (or fuzzy) messages: the pages show their source text."""
    return [_stats(locale, catalog_paths(root, locale)[0], read_catalog(catalog_paths(root, locale)[0], locale)) for locale in locales or locales_of(root)]
