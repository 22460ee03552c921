"""Locales on the wire: the ``App(i18n=...)`` settings, ``Accept-Language``, the
locale cookie and the locale segment of a path, as pure functions.

A request's locale is decided in this order (:func:`request_locale`): the first
path segment when it names a locale (``/fr/blog``); else, for an unprefixed path,
the default locale when ``prefix_default`` is False (the unprefixed URLs are the
default locale's), or the visitor's preference otherwise (:func:`negotiate`: the
``NEXPRESS_LOCALE`` cookie, then ``Accept-Language``, then the default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import StartupError

__all__ = [
    "COOKIE",
    "I18nConfig",
    "I18nConfigError",
    "locale_of_path",
    "negotiate",
    "parse_accept_language",
    "split_locale",
]

COOKIE = "NEXPRESS_LOCALE"
"""The cookie remembering a visitor's choice of locale (it wins over Accept-Language)."""

_TAG = re.compile(r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$")
_MAX_HEADER = 1024  # longer Accept-Language headers are cut here (no browser sends more)
_MAX_RANGES = 32
_Q = re.compile(r"^[qQ]=(0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")


class I18nConfigError(StartupError):
    """``App(i18n=...)`` is not usable; the message says what to write instead."""


def normalise_tag(tag: str) -> str:
    """``fr_ca``/``FR-ca`` -> ``fr-CA`` (BCP 47's usual case; ``_`` as Babel writes it accepted)."""
    parts = tag.replace("_", "-").split("-")
    out = [parts[0].lower()]
    for part in parts[1:]:
        out.append(part.upper() if len(part) == 2 else part.title() if len(part) == 4 else part.lower())
    return "-".join(out)


@dataclass(frozen=True, slots=True)
class I18nConfig:
    """``App(i18n={"locales": [...], "default": "en", "prefix_default": False})``."""

    locales: tuple[str, ...]
    default: str
    prefix_default: bool = False
    by_lower: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Every accepted spelling, lower-cased (``fr-ca``), to the configured locale;
    a region's language (``fr``) too when only regional locales are configured."""

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | I18nConfig) -> I18nConfig:
        """Validate ``App(i18n=...)``; :class:`I18nConfigError` names the fix."""
        if isinstance(settings, I18nConfig):
            return settings
        example = 'App(i18n={"locales": ["en", "fr"], "default": "en"})'
        if not isinstance(settings, Mapping):
            raise I18nConfigError(f"App(i18n=...) must be a dict such as {example}, not {type(settings).__name__}")
        unknown = set(settings) - {"locales", "default", "prefix_default"}
        if unknown:
            raise I18nConfigError(f"App(i18n=...) has unknown keys {sorted(unknown)}: the keys are locales, default, prefix_default ({example})")
        locales = settings.get("locales")
        if isinstance(locales, str) or not isinstance(locales, Iterable) or not locales:
            raise I18nConfigError(f"App(i18n=...) needs a non-empty list of locales: {example}")
        tags: list[str] = []
        for tag in locales:
            if not isinstance(tag, str) or not _TAG.match(tag):
                raise I18nConfigError(f"App(i18n=...): {tag!r} is not a locale tag such as 'en', 'fr' or 'pt-BR'")
            tag = normalise_tag(tag)
            if tag in tags:
                raise I18nConfigError(f"App(i18n=...): the locale {tag!r} is listed twice")
            tags.append(tag)
        default = settings.get("default", tags[0])
        if not isinstance(default, str) or normalise_tag(default) not in tags:
            raise I18nConfigError(f"App(i18n=...): the default locale {default!r} must be one of the locales {tags}")
        prefix_default = settings.get("prefix_default", False)
        if not isinstance(prefix_default, bool):
            raise I18nConfigError("App(i18n=...): prefix_default must be True or False")
        by_lower = {tag.lower(): tag for tag in tags}
        for tag in tags:  # "fr" finds "fr-FR" when no plain "fr" is configured
            by_lower.setdefault(tag.split("-")[0].lower(), tag)
        return cls(tuple(tags), normalise_tag(default), prefix_default, by_lower)

    def prefixed(self, locale: str) -> bool:
        """Are this locale's URLs under ``/<locale>``?"""
        return self.prefix_default or locale != self.default

    def url(self, path: str, locale: str) -> str:
        """``path`` (with or without a locale segment) as ``locale``'s URL: ``/fr/blog``,
        ``/blog`` for the default locale unless ``prefix_default``."""
        _, rest = split_locale(self, path)
        if not self.prefixed(locale):
            return rest
        return f"/{locale}" if rest == "/" else f"/{locale}{rest}"


def split_locale(config: I18nConfig, path: str) -> tuple[str | None, str]:
    """``/fr/blog?x`` -> ("fr", "/blog?x"); a path without a locale segment -> (None, path)."""
    if not path.startswith("/"):
        return None, path
    end = len(path)
    for stop in "/?#":
        found = path.find(stop, 1)
        if found != -1 and found < end:
            end = found
    first = path[1:end]
    if first not in config.locales:
        return None, path
    rest = path[end:]
    return first, rest if rest.startswith("/") else "/" + rest


def locale_of_path(config: I18nConfig, raw_path: str) -> str | None:
    """The locale the path's first segment names, or None."""
    return split_locale(config, raw_path)[0]


def parse_accept_language(header: str | bytes | None) -> list[tuple[str, float]]:
    """Language ranges of an ``Accept-Language`` header, best first (stable for equal
    q): ``fr-CA;q=0.9, en;q=0.8, *;q=0.1``. Malformed ranges and parameters are
    skipped (never an error); ``q=0`` ranges are kept (they refuse a language)."""
    if not header:
        return []
    text = header.decode("latin-1") if isinstance(header, bytes) else header
    ranges: list[tuple[str, float, int]] = []
    for index, item in enumerate(text[:_MAX_HEADER].split(",")[:_MAX_RANGES]):
        tag, *params = item.strip().split(";")
        tag = tag.strip()
        if tag != "*" and not _TAG.match(tag):
            continue
        q = 1.0
        for param in params:
            param = param.strip()
            matched = _Q.match(param)
            if matched is None:
                q = -1.0  # a malformed q: the range means nothing we can trust
                break
            q = float(matched.group(1))
        if q < 0:
            continue
        ranges.append((tag.lower(), q, index))
    ranges.sort(key=lambda r: (-r[1], r[2]))
    return [(tag, q) for tag, q, _ in ranges]


def match_accept_language(config: I18nConfig, header: str | bytes | None) -> str | None:
    """The configured locale the header prefers (``fr-CA`` falls back to ``fr``; ``*``
    to the default), or None when it names none of them."""
    ranges = parse_accept_language(header)
    refused = {config.by_lower.get(tag) for tag, q in ranges if q == 0}
    for tag, q in ranges:
        if q == 0:
            continue
        if tag == "*":
            return config.default if config.default not in refused else next((t for t in config.locales if t not in refused), None)
        found = config.by_lower.get(tag) or config.by_lower.get(tag.split("-")[0])
        if found is not None and found not in refused:
            return found
    return None


def negotiate(config: I18nConfig, cookie: str | None, accept_language: str | bytes | None) -> str:
    """The visitor's locale: the ``NEXPRESS_LOCALE`` cookie when it names a configured
    locale, then ``Accept-Language``, then the default."""
    if cookie:
        found = config.by_lower.get(cookie.strip().lower())
        if found is not None:
            return found
    return match_accept_language(config, accept_language) or config.default
