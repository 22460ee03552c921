"""``compress()``: gzip and brotli response compression, as Express's ``compression``.

    app.use(compress())                        # gzip + br, bodies from 1 KiB

The encoding is negotiated from ``Accept-Encoding`` (q-values honoured; ``br``
wins a tie). Compressible responses always get ``Vary: Accept-Encoding``. Left
alone: bodies under ``min_size``, responses that already have a
``Content-Encoding``, ``Cache-Control: no-transform``, types that do not shrink
(images, archives, fonts in woff2...), ``HEAD`` requests, 204/206/304 and files
sent with ``res.send_file`` (their ETag and Range handling stay intact).
Streams (``res.stream``, server-sent events) are compressed chunk by chunk and
flushed after each chunk, so every event still reaches the client at once.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable, Iterator
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = ["Compress", "compress", "is_compressible", "negotiate_encoding", "parse_accept_encoding"]

_MAX_CODINGS = 32  # an Accept-Encoding with more entries than this is not a browser's
_MAX_HEADER = 4096
_SKIP_STATUS = frozenset((204, 206, 304))

_COMPRESSIBLE_APPLICATION = frozenset(
    (
        "application/javascript", "application/x-javascript", "application/ecmascript",
        "application/json", "application/xml", "application/xhtml+xml", "application/rss+xml",
        "application/atom+xml", "application/x-ndjson", "application/graphql",
        "application/wasm", "application/x-www-form-urlencoded", "application/rtf",
        "application/vnd.ms-fontobject", "application/x-font-ttf", "application/x-sh",
        "application/sql", "application/yaml", "application/toml",
    )
)  # fmt: skip
_COMPRESSIBLE_OTHER = frozenset(
    ("image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp", "font/ttf", "font/otf")
)


def parse_accept_encoding(header: str | None) -> dict[str, float]:
    """``{coding: q}`` from an Accept-Encoding header (lower-case codings).

    Entries with a malformed q-value are ignored (RFC 9110: qvalue is 0-1 with at
    most three decimals); an oversized or garbled header yields what could be read
    from its first entries, never an error.
    """
    if not header:
        return {}
    codings: dict[str, float] = {}
    for count, item in enumerate(header[:_MAX_HEADER].split(",")):
        if count >= _MAX_CODINGS:
            break
        coding, *params = item.split(";")
        coding = coding.strip().lower()
        if not coding:
            continue
        q: float | None = 1.0
        for param in params:
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                q = _qvalue(value.strip())
        if q is not None and coding not in codings:
            codings[coding] = q
    return codings


def _qvalue(text: str) -> float | None:
    if not text or len(text) > 5 or not all(c.isdigit() or c == "." for c in text) or not text.isascii():
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


def negotiate_encoding(header: str | None, brotli_ok: bool = True) -> str | None:
    """``"br"``, ``"gzip"`` or None (send it as is) for an Accept-Encoding value.

    ``*`` stands for every coding not named; ``q=0`` refuses one; on a tie ``br``
    wins (smaller at similar cost). ``x-gzip`` counts as ``gzip``.
    """
    if header is not None and len(header) > 200:
        return _negotiate(header, brotli_ok)  # browsers send short ones: keep the cache for them
    return _negotiate_cached(header, brotli_ok)


def _negotiate(header: str | None, brotli_ok: bool) -> str | None:
    codings = parse_accept_encoding(header)
    if not codings:
        return None
    star = codings.get("*")
    best: tuple[float, str] | None = None
    candidates = ("br", "gzip") if brotli_ok else ("gzip",)
    for name in candidates:
        q = codings.get(name)
        if q is None and name == "gzip":
            q = codings.get("x-gzip")
        if q is None:
            q = star
        if q is not None and q > 0 and (best is None or q > best[0]):
            best = (q, name)
    return None if best is None else best[1]


_negotiate_cached = lru_cache(maxsize=256)(_negotiate)


@lru_cache(maxsize=256)
def is_compressible(content_type: str | None) -> bool:
    """Whether a Content-Type is worth compressing: text, JSON, XML, JavaScript,
    SVG and similar; not images, audio, video, archives or already-compressed fonts."""
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime.startswith("text/"):
        return True
    if mime.endswith(("+json", "+xml", "+text")):
        return True
    return mime in _COMPRESSIBLE_APPLICATION or mime in _COMPRESSIBLE_OTHER


def _no_transform(cache_control: str | None) -> bool:
    if not cache_control:
        return False
    return any(d.strip().lower() == "no-transform" for d in cache_control.split(","))


def weak_etag(etag: str) -> str:
    """``"abc"`` -> ``W/"abc"``: the compressed bytes are not the ones it named."""
    return etag if etag.startswith("W/") else "W/" + etag


class Encoder(Protocol):
    def compress(self, data: bytes) -> bytes: ...
    def flush(self) -> bytes: ...
    def finish(self) -> bytes: ...


class _Gzip:
    """Streaming gzip: ``flush`` ends each chunk on a byte boundary (Z_SYNC_FLUSH)."""

    def __init__(self, level: int) -> None:
        self._z = zlib.compressobj(level, zlib.DEFLATED, 31)

    def compress(self, data: bytes) -> bytes:
        return self._z.compress(data)

    def flush(self) -> bytes:
        return self._z.flush(zlib.Z_SYNC_FLUSH)

    def finish(self) -> bytes:
        return self._z.flush(zlib.Z_FINISH)


class _Brotli:
    def __init__(self, brotli: ModuleType, quality: int) -> None:
        self._b = brotli.Compressor(quality=quality, lgwin=22)

    def compress(self, data: bytes) -> bytes:
        return self._b.process(data)

    def flush(self) -> bytes:
        return self._b.flush()

    def finish(self) -> bytes:
        return self._b.finish()


def _flushed(encoder: Encoder, chunk: bytes | str) -> bytes:
    """One chunk compressed and flushed (b"" for an empty chunk)."""
    data = chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
    return encoder.compress(data) + encoder.flush() if data else b""


async def compress_async_stream(source: AsyncIterable[bytes | str], encoder: Encoder) -> AsyncIterator[bytes]:
    """Compress an async stream, flushing after every chunk (an SSE event is never
    held back waiting for more data); closes ``source`` when the client leaves."""
    try:
        async for chunk in source:
            yield _flushed(encoder, chunk)
        yield encoder.finish()
    finally:
        close = getattr(source, "aclose", None)
        if close is not None:
            await close()


def compress_sync_stream(source: Iterable[bytes | str], encoder: Encoder) -> Iterator[bytes]:
    """The same for a plain iterable (the server iterates it in a thread)."""
    try:
        for chunk in source:
            yield _flushed(encoder, chunk)
        yield encoder.finish()
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()


class Compress(Middleware):
    """The middleware ``compress()`` returns (see the module docstring)."""

    def __init__(
        self, min_size: int, level: int, brotli_enabled: bool, brotli_quality: int, compressible: Callable[[str | None], bool]
    ) -> None:
        self.min_size = min_size
        self.level = level
        self.brotli = brotli_enabled
        self.brotli_quality = brotli_quality
        self.compressible = compressible
        # the brotli extension loads with the first compress() that offers br, not
        # with ``import nexpress``
        self._br: ModuleType | None = None
        if brotli_enabled:
            import brotli

            self._br = brotli

    def encoder(self, coding: str) -> Encoder:
        return _Brotli(self._br, self.brotli_quality) if coding == "br" else _Gzip(self.level)

    def compress_body(self, coding: str, body: bytes) -> bytes:
        if coding == "br":
            return self._br.compress(body, quality=self.brotli_quality, lgwin=22)
        z = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return z.compress(body) + z.flush()

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        await next()
        # an error raised by the handler skips this on purpose: error pages are small
        if res.file_path is not None or res.status_code in _SKIP_STATUS or res.status_code < 200:
            return
        if not self.compressible(res.get("content-type")) or _no_transform(res.get("cache-control")):
            return
        res.vary("Accept-Encoding")
        encoding = res.get("content-encoding")
        if (encoding and encoding.strip().lower() != "identity") or req.method == "HEAD":
            return
        stream = res.body_stream
        if stream is None and (not res.body or len(res.body) < self.min_size):
            return
        coding = negotiate_encoding(req.headers.get("accept-encoding"), self.brotli)
        if coding is None:
            return
        if stream is None:
            res.body = self.compress_body(coding, res.body)
        elif hasattr(stream, "__aiter__"):
            res.body_stream = compress_async_stream(stream, self.encoder(coding))  # type: ignore[arg-type]
        else:
            res.body_stream = compress_sync_stream(stream, self.encoder(coding))  # type: ignore[arg-type]
        res.set("content-encoding", coding)
        res.remove("content-length")
        etag = res.get("etag")
        if etag:
            res.set("etag", weak_etag(etag))

    def __repr__(self) -> str:
        return f"compress(min_size={self.min_size}, brotli={self.brotli})"


def compress(
    min_size: int = 1024,
    level: int = 6,
    brotli: bool = True,
    *,
    brotli_quality: int = 4,
    compressible: Callable[[str | None], bool] = is_compressible,
) -> Compress:
    """Response compression (replaces Express's ``compression`` package).

    ``min_size``: smaller bodies are sent as they are (streams are always
    compressed: their size is unknown). ``level``: gzip level 1-9. ``brotli``:
    offer ``br`` too; ``brotli_quality`` 0-11 (4 is fast enough for dynamic
    responses; 11 is for precompressing static files). ``compressible(content_type)``
    decides which types are worth it (default: :func:`is_compressible`).
    """
    if not isinstance(min_size, int) or min_size < 0:
        raise ValueError(f"compress(min_size=...) must be a byte count >= 0, not {min_size!r}")
    if not isinstance(level, int) or not 1 <= level <= 9:
        raise ValueError(f"compress(level=...) must be a gzip level from 1 to 9, not {level!r}")
    if not isinstance(brotli_quality, int) or not 0 <= brotli_quality <= 11:
        raise ValueError(f"compress(brotli_quality=...) must be from 0 to 11, not {brotli_quality!r}")
    return Compress(min_size, level, brotli, brotli_quality, compressible)
