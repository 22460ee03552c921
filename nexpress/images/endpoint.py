"""``GET /_nexpress/image?url=&w=&q=``: one resized variant of a source, computed once.

The query is checked first (widths and qualities from the fixed lists, the source
under ``public/`` or on the remote allow-list: else 400). The variant is then looked
up on disk; when missing, one request per key computes it (the others wait on the
key's lock and find it stored), with at most as many decodes at a time as there are
CPUs, in threads. Answers say ``Vary: Accept`` (the format follows it), carry a
sandboxing CSP and ``nosniff``, and ``x-nexpress-cache: HIT`` or ``MISS``.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..http.errors import BadRequest
from ..http.files import etag_matches
from ..routing.endpoint import Endpoint
from .config import ImageConfig
from .protocol import (
    MIME,
    RemoteURL,
    Variant,
    match_remote,
    parse_variant,
    preferred_format,
    refuse_remote,
    remote_url,
    variant_key,
)
from .sources import RemoteFetcher, local_source, read_local
from .store import EXTENSIONS, DiskVariants, KeyedLocks, SharedVariants, Stored
from .transform import ImageError, can_encode, encode_variant

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["CSP", "Answer", "ImageEndpoint", "ImageService"]

CSP = "default-src 'none'; script-src 'none'; frame-src 'none'; sandbox"
"""Sent with every image (an SVG opened on its own can run nothing)."""
YEAR = 31536000
DAY = 86400


@dataclass(frozen=True, slots=True)
class Answer:
    """A stored variant and how to send it."""

    stored: Stored
    state: str  # HIT or MISS (x-nexpress-cache)
    max_age: int
    immutable: bool


@dataclass(frozen=True, slots=True)
class Source:
    """Where a variant comes from: its identity (part of the cache key), how to read
    it, how long its variants stay fresh (None: as long as the identity holds)."""

    identity: str
    load: Callable[[], Awaitable[bytes]]
    max_age: int | None
    immutable: bool
    svg: bool = False


class ImageService:
    """The endpoint's state: settings, the disk store, the per-key locks, the remote
    fetcher, and ``decodes`` (variants computed by this process)."""

    def __init__(self, config: ImageConfig, public: str | None, store: DiskVariants | SharedVariants) -> None:
        self.config = config
        self.public = public
        self.store = store
        self.locks = KeyedLocks()
        self.fetcher = RemoteFetcher(config.timeout, config.max_bytes)
        self.decodes = 0
        """Variants this process has decoded and encoded (a stored one is not counted)."""
        self._offered: tuple[str, ...] | None = None
        self._slots: asyncio.Semaphore | None = None

    def offered(self) -> tuple[str, ...]:
        """The configured modern formats this Pillow can encode (checked once)."""
        if self._offered is None:
            self._offered = tuple(f for f in self.config.formats if can_encode(f))
        return self._offered

    def slots(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(max(1, os.cpu_count() or 1))
        return self._slots

    async def serve(self, req: Request, res: Response) -> None:
        answer = await self.variant(req.query.multi_items(), req.get("accept"))
        _send(req, res, answer)

    async def variant(self, pairs: list[tuple[str, str]], accept: str | None) -> Answer:
        """The variant a request's query and Accept header ask for, stored (computed
        first when missing, once per key); raises HTTPError (4xx, 502, 504)."""
        variant = parse_variant(pairs, self.config.widths, self.config.qualities)
        source = self._remote(variant) if variant.remote else self._local(variant)
        if isinstance(source, Answer):
            return source
        wanted = "svg" if source.svg else preferred_format(accept, self.offered())
        key = variant_key(source.identity, variant.width, variant.quality, wanted or "source")
        order = ((wanted,) if wanted else ()) + EXTENSIONS
        stored = await self.store.lookup(key, order, source.max_age)
        state = "HIT"
        if stored is None:
            async with self.locks.hold(key):
                stored = await self.store.lookup(key, order, source.max_age)
                if stored is None:
                    stored = await self._compute(key, source, variant.width, variant.quality, wanted)
                    state = "MISS"
        return Answer(stored, state, YEAR if source.immutable else (source.max_age or DAY), source.immutable)

    def _remote(self, variant: Variant) -> Source:
        """An allow-listed remote source (else 400: never fetched)."""
        url = remote_url(variant.url)
        if not match_remote(url, self.config.remote):
            raise refuse_remote(variant.url)
        svg = url.path.lower().endswith(".svg")
        if svg and not self.config.svg:
            raise _svg_refused()
        return Source(f"remote:{url.url}", lambda: self._fetch(url, svg), self.config.remote_max_age, False, svg)

    def _local(self, variant: Variant) -> Source | Answer:
        """A file of ``public/`` (an allowed SVG: the file itself, as it is)."""
        found = local_source(self.public, variant.url)
        if found.path.lower().endswith(".svg"):
            if not self.config.svg:
                raise _svg_refused()
            return Answer(Stored(found.path, "svg"), "HIT", DAY, False)
        max_bytes = self.config.max_bytes
        return Source(
            f"local:{found.path}:{found.version}",
            lambda: asyncio.to_thread(read_local, found, max_bytes),
            None,
            variant.version == found.version,  # the URL names this version: a year
        )

    async def _compute(self, key: str, source: Source, width: int, quality: int, fmt: str | None) -> Stored:
        data = await source.load()
        if fmt == "svg":
            return await self.store.save(key, "svg", data, source.max_age)
        async with self.slots():
            encoded = await asyncio.to_thread(encode_variant, data, width, quality, fmt, self.config.max_pixels)
            self.decodes += 1
        return await self.store.save(key, encoded.format, encoded.data, source.max_age)

    async def _fetch(self, url: RemoteURL, svg: bool) -> bytes:
        data, content_type = await self.fetcher.fetch(url)
        if svg and not _looks_like_svg(data, content_type):
            raise ImageError("The remote .svg is not an SVG document")
        return data

    async def close(self) -> None:
        await self.fetcher.close()


def _svg_refused() -> BadRequest:
    return BadRequest("SVG images are not served unless allowed: App(images={'svg': True}) (they are sent as they are, sandboxed)")


def _looks_like_svg(data: bytes, content_type: str) -> bool:
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return content_type.split(";")[0].strip().lower() == "image/svg+xml" and head.startswith((b"<svg", b"<?xml", b"<!--"))


def _send(req: Request, res: Response, answer: Answer) -> None:
    res.set("vary", "Accept")
    res.set("content-security-policy", CSP)
    res.set("x-content-type-options", "nosniff")
    res.set("x-nexpress-cache", answer.state)
    stored = answer.stored
    media = "image/svg+xml" if stored.format == "svg" else MIME[stored.format]
    if stored.path is not None:
        res.send_file(stored.path, max_age=answer.max_age, immutable=answer.immutable, media_type=media)
        return
    etag = f'"{stored.etag}"'
    res.set("etag", etag)
    res.set("cache-control", f"public, max-age={answer.max_age}" + (", immutable" if answer.immutable else ""))
    match = req.get("if-none-match")
    if match and etag_matches(match, etag):
        res.status(304).end()
        return
    res.type(media).send(stored.data or b"")


class ImageEndpoint(Endpoint):
    """The route's handler (``nexpress routes`` shows it as an image answer)."""

    response_kind = "image"

    def __init__(self, service: ImageService) -> None:
        self.service = service
        self.__qualname__ = "image_variant"

    async def __call__(self, req: Request, res: Response) -> None:
        await self.service.serve(req, res)

