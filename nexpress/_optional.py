"""Optional dependencies: imported where a feature is used, never by ``import nexpress``.

A JSON API needs none of Redis, SQLAlchemy, Authlib, Swagger UI or OpenTelemetry, so
they are extras (``pip install 'nexpress[redis]'``, ``[auth]``, ``[postgres]``,
``[openapi]``, ``[otel]``, ``[metrics]``, ``[images]``, ``[i18n]``, ``[all]``) and the modules that need them
import them on first use through :func:`require`. When one is missing, the error
names the feature and the extra that brings it, instead of ``No module named 'redis'``
from deep inside a request.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["EXTRAS", "MissingExtraError", "check_installed", "install_hint", "require", "require_extra"]

#: The modules each extra provides (the ones nexpress imports; pyproject.toml lists
#: the distributions).
EXTRAS: dict[str, tuple[str, ...]] = {
    "auth": ("authlib", "joserfc", "argon2", "cryptography", "sqlalchemy", "aiosqlite", "httpx"),
    "redis": ("redis",),
    "postgres": ("asyncpg",),
    "openapi": ("swagger_ui_bundle",),
    "otel": ("opentelemetry.trace", "opentelemetry.sdk"),
    "metrics": ("prometheus_client",),
    "images": ("PIL.Image",),
    "i18n": ("babel",),
}


class MissingExtraError(ModuleNotFoundError):
    """A feature's optional dependency is not installed; the message names the extra.

    A ``ModuleNotFoundError`` (so an ``ImportError``), as the plain import would be."""


def install_hint(extra: str) -> str:
    """The command that installs an extra."""
    return f"pip install 'nexpress[{extra}]'"


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature``; when it (or a module it needs) is not
    installed, raise :class:`MissingExtraError` naming ``extra``."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"{feature} needs the {extra!r} extra: {install_hint(extra)} ({exc})", name=exc.name
        ) from exc


def require_extra(extra: str, feature: str) -> None:
    """Import every module of ``extra`` (see :data:`EXTRAS`), so that a feature that
    needs all of them fails once, at import, with the extra's name."""
    for module in EXTRAS[extra]:
        require(module, extra, feature)


def check_installed(module: str, extra: str, feature: str) -> None:
    """Fail now, naming ``extra``, when ``module`` is not installed, without importing
    it (a feature configured at start-up whose work, and import, comes later)."""
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise MissingExtraError(f"{feature} needs the {extra!r} extra: {install_hint(extra)} (no module {module!r})", name=module)
