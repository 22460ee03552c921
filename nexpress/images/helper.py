"""``image(src, width=, height=, alt=, sizes=, priority=False, quality=75)`` in templates.

It renders an ``<img>`` with ``width``/``height`` (read from the file's header when
not given: no layout shift), a ``srcset`` of variants from the configured widths,
``loading="lazy"`` and ``decoding="async"``. Without ``sizes`` the srcset offers the
1x and 2x widths of ``width``; with ``sizes`` every configured width (``Nw``).
``priority=True``: ``loading="eager"``, ``fetchpriority="high"`` and a
``<link rel="preload" as="image" imagesrcset=...>`` in the page's ``<head>``.
Local sources carry their version (``&v=``) so the endpoint can cache them for a year.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from ..http._bounded import BoundedDict
from ..http.errors import HTTPError
from ..http.templating import HEAD_TAGS
from .config import ImageConfig
from .protocol import local_segments, match_remote, remote_url
from .sources import local_source
from .transform import ImageError, probe

__all__ = ["ImageHelper", "srcset_widths"]


def srcset_widths(widths: tuple[int, ...], width: int, sizes: str | None) -> list[tuple[int, str]]:
    """(variant width, descriptor) pairs: every width ``Nw`` with ``sizes``, else the
    smallest configured widths covering 1x and 2x of ``width`` (Next.js's rule)."""
    if sizes:
        return [(w, f"{w}w") for w in widths]
    chosen: list[tuple[int, str]] = []
    for density in (1, 2):
        fit = next((w for w in widths if w >= width * density), widths[-1])
        if not chosen or chosen[-1][0] != fit:
            chosen.append((fit, f"{density}x"))
    return chosen


class ImageHelper:
    """The ``image`` global of an app's templates; reads each local source's size and
    version once (again when the file changes, in debug)."""

    def __init__(self, config: ImageConfig, public: str | None, debug: bool) -> None:
        self.config = config
        self.public = public
        self.debug = debug
        self._known: dict[str, tuple[float, str, tuple[int, int] | None]] = {}
        self._rendered: BoundedDict[tuple[Any, ...], tuple[str | None, Markup, str]] = BoundedDict(RENDERED_MAX)
        """What a call rendered: (source version, ``<img>``, preload) by its arguments."""

    def url(self, src: str, width: int, quality: int, version: str | None) -> str:
        query = f"?url={quote(src, safe='/:')}&w={width}&q={quality}"
        return self.config.path + query + (f"&v={version}" if version else "")

    def _local(self, src: str, need_size: bool) -> tuple[str, tuple[int, int] | None]:
        """(version, intrinsic size) of a file under ``public/``; the size is read
        from the header only when needed (None when not, and for SVG)."""
        known = self._known.get(src)
        if known is not None and not self.debug and (known[2] is not None or not need_size):
            return known[1], known[2]
        try:
            source = local_source(self.public, src)
        except Exception as exc:
            where = os.path.join(self.public or "public", *local_segments(src)) if src.startswith("/") else src
            raise ValueError(f"image({src!r}): no such file ({where}): {getattr(exc, 'detail', exc)}") from None
        mtime = os.stat(source.path).st_mtime
        if known is not None and known[0] == mtime and (known[2] is not None or not need_size):
            return known[1], known[2]
        size = None
        if need_size and not source.path.lower().endswith(".svg"):
            try:
                _, w, h = probe(source.path, self.config.max_pixels)
            except ImageError as exc:
                raise ValueError(f"image({src!r}): its size cannot be read ({exc.detail}); give width= and height=") from None
            size = (w, h)
        self._known[src] = (mtime, source.version, size)
        return source.version, size

    def render(
        self,
        src: str,
        width: int | None = None,
        height: int | None = None,
        alt: str | None = None,
        sizes: str | None = None,
        priority: bool = False,
        quality: int = 75,
        head: list[str] | None = None,
        **attrs: Any,
    ) -> Markup:
        """The ``<img>`` (see the module docstring); ``head``: where a preload goes."""
        try:  # types too: Markup("<b>") equals "<b>" but is not escaped
            texts = ((src, type(src)), (alt, type(alt)), (sizes, type(sizes)))
            key: tuple[Any, ...] | None = (texts, width, height, priority, quality, *((k, type(v), v) for k, v in attrs.items()))
            hash(key)
        except TypeError:  # an unhashable attribute value: rendered every time
            key = None
        hit = self._rendered.get(key) if key is not None else None
        if hit is not None and (hit[0] is None or self._local(src, need_size=False)[0] == hit[0]):
            return _place(hit[1], hit[2], priority, head)
        version, built, preload = self._build(src, width, height, alt, sizes, priority, quality, attrs)
        tag = Markup(built)  # made once: a hit hands out this very object
        if key is not None:  # alt texts come from data: bounded
            self._rendered.put(key, (version, tag, preload))
        return _place(tag, preload, priority, head)

    def _build(
        self, src: str, width: int | None, height: int | None, alt: str | None, sizes: str | None,
        priority: bool, quality: int, attrs: dict[str, Any],
    ) -> tuple[str | None, str, str]:
        """(source version, ``<img>``, preload link) for one call's arguments."""
        if alt is None:
            raise ValueError(f"image({src!r}): alt= is required (alt='' for a decorative image)")
        if quality not in self.config.qualities:
            raise ValueError(f"image({src!r}, quality={quality}): not one of App(images={{'qualities': {list(self.config.qualities)}}})")
        version: str | None = None
        svg = False
        if src.startswith("/") and not src.startswith("//"):
            svg = src.lower().endswith(".svg")
            version, size = self._local(src, need_size=not svg and (width is None or height is None))
            if size is not None:
                width, height = _fill(width, height, size)
        else:
            try:
                allowed = match_remote(remote_url(src), self.config.remote)
            except HTTPError as exc:
                raise ValueError(f"image({src!r}): not a path under public/ or an http(s) URL ({exc.detail})") from None
            if not allowed:
                raise ValueError(f"image({src!r}): a remote source must match App(images={{'remote': [...]}}); none does")
            svg = src.lower().split("?")[0].endswith(".svg")
        if width is None or height is None:
            raise ValueError(f"image({src!r}): width= and height= are required for this source")
        attributes: dict[str, Any] = {"alt": alt, "width": width, "height": height, "decoding": "async"}
        attributes["loading"] = "eager" if priority else "lazy"
        if priority:
            attributes["fetchpriority"] = "high"
        preload = ""
        if svg:  # sent as it is: no variants
            attributes["src"] = src if not self.config.svg else self.url(src, self.config.widths[-1], quality, version)
            preload = f'<link rel="preload" as="image" href="{escape(attributes["src"])}">'
        else:
            candidates = srcset_widths(self.config.widths, int(width), sizes)
            srcset = ", ".join(f"{self.url(src, w, quality, version)} {d}" for w, d in candidates)
            attributes["srcset"] = srcset
            if sizes:
                attributes["sizes"] = sizes
            attributes["src"] = self.url(src, candidates[-1][0], quality, version)
            extra = f' imagesizes="{escape(sizes)}"' if sizes else ""
            preload = f'<link rel="preload" as="image" imagesrcset="{escape(srcset)}"{extra} fetchpriority="high">'
        for name, value in attrs.items():
            attributes[name.rstrip("_").replace("_", "-")] = value
        tag = "<img " + " ".join(f'{name}="{escape(value)}"' for name, value in attributes.items() if value is not None) + ">"
        return version, tag, preload

    def template_global(self) -> Callable[..., Markup]:
        """``image`` for a Jinja environment (the page's ``<head>`` list from the context)."""
        import jinja2  # loaded with that environment

        @jinja2.pass_context
        def image(context: Any, src: str, *args: Any, **options: Any) -> Markup:
            head = context.get(HEAD_TAGS)
            return self.render(src, *args, head=head if isinstance(head, list) else None, **options)

        return image


RENDERED_MAX = 4096
"""Calls remembered per app (the same avatar on every page view renders once)."""


def _place(tag: Markup, preload: str, priority: bool, head: list[str] | None) -> Markup:
    """The ``<img>``; with ``priority``, its preload goes into the page's head tags
    (once), or beside the image where no page collects them (``res.render``)."""
    if not priority:
        return tag
    if head is None:
        return Markup(preload) + tag  # Markup + Markup: neither side escaped
    if preload not in head:
        head.append(preload)
    return tag


def _fill(width: int | None, height: int | None, size: tuple[int, int]) -> tuple[int, int]:
    """Missing dimensions from the intrinsic size, keeping its aspect ratio."""
    own_w, own_h = size
    if width is None and height is None:
        return own_w, own_h
    if width is None:
        assert height is not None
        return max(1, round(own_w * height / own_h)), height
    if height is None:
        return width, max(1, round(own_h * width / own_w))
    return width, height
