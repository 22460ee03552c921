"""``App(images=...)``: the settings of the image feature, checked once at start-up.

Widths and qualities are fixed lists: the endpoint answers only those, so a client
cannot make it compute (and store) an unbounded number of variants. Remote sources
are allowed by pattern only (see :mod:`nexpress.images.protocol`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from .protocol import RemotePattern, compile_remote

__all__ = ["DEFAULT_QUALITIES", "DEFAULT_WIDTHS", "ImageConfig", "image_config"]

DEFAULT_WIDTHS = (16, 32, 48, 64, 96, 128, 256, 384, 640, 750, 828, 1080, 1200, 1920, 2048, 3840)
"""Next.js's image and device sizes together: icons to 4K screens."""
DEFAULT_QUALITIES = (75,)
MiB = 1024 * 1024

_KEYS = {"widths", "qualities", "remote", "svg", "max_pixels", "max_bytes", "timeout", "formats", "remote_max_age", "path", "store"}
_FORMATS = ("avif", "webp")


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """What ``App(images={...})`` resolved to (docs/images.md lists every key)."""

    widths: tuple[int, ...] = DEFAULT_WIDTHS
    qualities: tuple[int, ...] = DEFAULT_QUALITIES
    remote: tuple[RemotePattern, ...] = ()
    svg: bool = False
    max_pixels: int = 40_000_000
    """Sources with more pixels (width x height, read from the header) are refused
    before anything is decoded: a small file can claim a huge canvas."""
    max_bytes: int = 20 * MiB
    """The largest source file (local or remote) read."""
    timeout: float = 10.0
    """Seconds for a remote source, connection to last byte."""
    formats: tuple[str, ...] = _FORMATS
    """Modern formats offered, best first, to browsers whose Accept names them."""
    remote_max_age: int = 86400
    """How long a remote source's variants are kept (disk) and cached by browsers."""
    path: str = "/_nexpress/image"
    store: str = "disk"
    """Where variants are kept: ``disk`` (``.nexpress/images/``) or ``cache`` (the
    app's cache store: Redis shares them between instances)."""
    remote_patterns: tuple[str, ...] = field(default=())


def _int_list(name: str, value: Any, low: int, high: int) -> tuple[int, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise TypeError(f"App(images={{{name!r}: ...}}): a non-empty list of integers, not {value!r}")
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or not low <= item <= high:
            raise ValueError(f"App(images={{{name!r}: ...}}): {item!r} is not an integer from {low} to {high}")
    return tuple(sorted(set(value)))


def image_config(options: dict[str, Any] | bool) -> ImageConfig:
    """Check ``App(images=...)`` (``True`` or ``{}``: the defaults), naming what is wrong."""
    if options is True:
        options = {}
    if not isinstance(options, dict):
        raise TypeError(f"App(images=...): a dict of settings (or True), not {options!r}")
    unknown = set(options) - _KEYS
    if unknown:
        raise TypeError(f"App(images=...): unknown setting(s) {sorted(unknown)}; known: {sorted(_KEYS)}")
    settings: dict[str, Any] = {}
    if "widths" in options:
        settings["widths"] = _int_list("widths", options["widths"], 1, 8192)
    if "qualities" in options:
        settings["qualities"] = _int_list("qualities", options["qualities"], 1, 100)
    patterns = options.get("remote", [])
    if not isinstance(patterns, (list, tuple)) or not all(isinstance(p, str) for p in patterns):
        raise TypeError(f"App(images={{'remote': ...}}): a list of URL patterns such as 'https://cdn.example.com/**', not {patterns!r}")
    settings["remote"] = tuple(compile_remote(p) for p in patterns)
    settings["remote_patterns"] = tuple(patterns)
    settings["svg"] = bool(options.get("svg", False))
    for name in ("max_pixels", "max_bytes", "remote_max_age"):
        if name in options:
            value = options[name]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"App(images={{{name!r}: ...}}): a positive integer, not {value!r}")
            settings[name] = value
    if "timeout" in options:
        timeout = options["timeout"]
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ValueError(f"App(images={{'timeout': ...}}): seconds greater than zero, not {timeout!r}")
        settings["timeout"] = float(timeout)
    if "formats" in options:
        formats = tuple(options["formats"])
        bad = [f for f in formats if f not in _FORMATS]
        if bad:
            raise ValueError(f"App(images={{'formats': ...}}): {bad} unknown; choose from {list(_FORMATS)}")
        settings["formats"] = formats
    if "path" in options:
        path = options["path"]
        if not isinstance(path, str) or not path.startswith("/") or "?" in path:
            raise ValueError(f"App(images={{'path': ...}}): a URL path starting with '/', not {path!r}")
        settings["path"] = path
    if "store" in options:
        if options["store"] not in ("disk", "cache"):
            raise ValueError(f"App(images={{'store': ...}}): 'disk' or 'cache', not {options['store']!r}")
        settings["store"] = options["store"]
    return ImageConfig(**settings)


def cache_folder(root: str) -> str:
    """Where variants are kept: ``.nexpress/images/`` under the app's root."""
    return os.path.join(root, ".nexpress", "images")
