"""Where sources come from: files under ``public/`` (never outside it) and remote URLs
on the allow-list, fetched with httpx: no redirects, a timeout for the whole fetch,
and at most ``max_bytes`` read (a larger answer is cut off and refused)."""

from __future__ import annotations

import asyncio
import hashlib
import os
from typing import Any

from ..http.errors import HTTPError
from ..http.paths import safe_segments_join
from .protocol import RemoteURL, local_segments
from .transform import ImageError

__all__ = ["LocalSource", "RemoteFetcher", "local_source"]


class LocalSource:
    """A file of ``public/`` and its version (size and modification time)."""

    __slots__ = ("path", "size", "version")

    def __init__(self, path: str, st: os.stat_result) -> None:
        self.path = path
        self.size = st.st_size
        self.version = hashlib.sha256(f"{st.st_mtime_ns}:{st.st_size}".encode()).hexdigest()[:12]


def local_source(public: str | None, url: str) -> LocalSource:
    """The file ``url`` names under ``public`` (400 for traversal, 404 when missing)."""
    segments = local_segments(url)
    if public is None:
        raise HTTPError(404, "This app has no public/ folder to take images from")
    path = safe_segments_join(public, segments)
    if path is None:
        raise HTTPError(400, "The image URL leaves the public/ folder")
    try:
        st = os.stat(path)
    except OSError:
        raise HTTPError(404, f"No image at {url[:200]!r} in public/") from None
    if not os.path.isfile(path):
        raise HTTPError(404, f"No image at {url[:200]!r} in public/")
    return LocalSource(path, st)


def read_local(source: LocalSource, max_bytes: int) -> bytes:
    """The file's bytes, at most ``max_bytes`` (blocking: run in a thread)."""
    if source.size > max_bytes:
        raise ImageError(f"The source file is larger than {max_bytes} bytes (App(images={{'max_bytes': ...}}))")
    with open(source.path, "rb") as fh:
        data = fh.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise ImageError(f"The source file is larger than {max_bytes} bytes (App(images={{'max_bytes': ...}}))")
    return data


class RemoteFetcher:
    """Fetches allowed remote sources with one shared httpx client (made on first use,
    closed at shutdown)."""

    def __init__(self, timeout: float, max_bytes: int) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            import httpx  # a core dependency; loaded on the first remote image only

            self._client = httpx.AsyncClient(
                timeout=self.timeout,
                follow_redirects=False,
                headers={"accept": "image/avif,image/webp,image/*;q=0.8", "user-agent": "nexpress-images"},
            )
        return self._client

    async def fetch(self, url: RemoteURL) -> tuple[bytes, str]:
        """(body, content type); 502 when the remote answers anything but 200 or cannot
        be reached, 504 past the timeout, 422 past ``max_bytes``."""
        import httpx

        try:
            async with asyncio.timeout(self.timeout):
                return await self._fetch(url)
        except TimeoutError:
            raise HTTPError(504, f"The remote image took longer than {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise HTTPError(502, f"The remote image could not be fetched ({type(exc).__name__})") from None

    async def _fetch(self, url: RemoteURL) -> tuple[bytes, str]:
        async with self.client().stream("GET", url.url) as answer:
            if answer.status_code != 200:
                raise HTTPError(502, f"The remote image answered {answer.status_code}, not 200")
            declared = answer.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_bytes:
                raise ImageError(f"The remote image is larger than {self.max_bytes} bytes")
            chunks: list[bytes] = []
            size = 0
            async for chunk in answer.aiter_bytes():
                size += len(chunk)
                if size > self.max_bytes:
                    raise ImageError(f"The remote image is larger than {self.max_bytes} bytes")
                chunks.append(chunk)
            return b"".join(chunks), answer.headers.get("content-type", "")

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
