"""Locale-aware formatting with Babel's CLDR data, in the current locale
(:mod:`.context`) unless ``locale=`` says otherwise: ``format_date(d)`` is
``7 déc. 2026`` in French and ``Dec 7, 2026`` in English."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from .._optional import require
from .catalogs import babel_locale
from .context import current_locale

__all__ = ["format_currency", "format_date", "format_datetime", "format_number", "format_percent", "format_time"]

Number = int | float | Decimal


def _locale(locale: str | None) -> str:
    return babel_locale(locale or current_locale())


def _dates() -> Any:
    return require("babel.dates", "i18n", "Date formatting")


def _numbers() -> Any:
    return require("babel.numbers", "i18n", "Number formatting")


def format_date(value: dt.date | dt.datetime | None = None, format: str = "medium", *, locale: str | None = None) -> str:
    """A date (``short``, ``medium``, ``long``, ``full`` or a CLDR pattern)."""
    return _dates().format_date(value, format=format, locale=_locale(locale))


def format_datetime(value: dt.datetime | None = None, format: str = "medium", *, tzinfo: dt.tzinfo | None = None, locale: str | None = None) -> str:
    """A date and time, in ``tzinfo`` when given."""
    return _dates().format_datetime(value, format=format, tzinfo=tzinfo, locale=_locale(locale))


def format_time(value: dt.time | dt.datetime | None = None, format: str = "medium", *, tzinfo: dt.tzinfo | None = None, locale: str | None = None) -> str:
    """A time of day."""
    return _dates().format_time(value, format=format, tzinfo=tzinfo, locale=_locale(locale))


def format_number(value: Number, *, locale: str | None = None, decimal_quantization: bool = True) -> str:
    """A number with the locale's separators: ``1,234.5`` / ``1 234,5``."""
    return _numbers().format_decimal(value, locale=_locale(locale), decimal_quantization=decimal_quantization)


def format_currency(value: Number, currency: str, *, locale: str | None = None) -> str:
    """An amount in ``currency`` (ISO 4217): ``€1,234.50`` / ``1 234,50 €``."""
    return _numbers().format_currency(value, currency, locale=_locale(locale))


def format_percent(value: Number, *, locale: str | None = None) -> str:
    """A ratio as a percentage: ``0.25`` -> ``25%`` / ``25 %``."""
    return _numbers().format_percent(value, locale=_locale(locale))
