"""Where variants are kept: files under ``.nexpress/images/``, written atomically, or
the app's shared cache store (``images={"store": "cache"}``: Redis for several
instances), and the per-key locks that make each variant computed once per instance.

A variant's file is named by its key and format (``ab/ab12....webp``): the key already
holds the source's version (its size and modification time, or its URL for a remote
source), so a changed source gets new keys and old variants are simply never asked for.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..cache.stores import Entry, Store, StoreUnavailable

__all__ = ["DiskVariants", "KeyedLocks", "SharedVariants", "Stored"]

EXTENSIONS = ("avif", "webp", "jpeg", "png", "gif", "svg")


@dataclass(frozen=True, slots=True)
class Stored:
    """A stored variant: a file on disk (``path``), or bytes from the shared store."""

    path: str | None
    format: str
    data: bytes | None = None
    etag: str = ""


class DiskVariants:
    """Variants as files under ``folder``; ``max_age`` (seconds) for remote sources."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    def path(self, key: str, fmt: str) -> str:
        return os.path.join(self.folder, key[:2], f"{key}.{fmt}")

    def find(self, key: str, formats: tuple[str, ...] = EXTENSIONS, max_age: float | None = None) -> Stored | None:
        """The stored variant of ``key`` in one of ``formats`` (fresh enough), or None."""
        for fmt in formats:
            path = self.path(key, fmt)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if max_age is not None and time.time() - st.st_mtime > max_age:
                return None
            return Stored(path, fmt)
        return None

    def put(self, key: str, fmt: str, data: bytes) -> Stored:
        """Write a variant: to a temporary file first, then renamed into place, so a
        reader (another worker) never sees half a file."""
        path = self.path(key, fmt)
        folder = os.path.dirname(path)
        os.makedirs(folder, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        return Stored(path, fmt)

    async def lookup(self, key: str, formats: tuple[str, ...], max_age: float | None) -> Stored | None:
        return self.find(key, formats, max_age)

    async def save(self, key: str, fmt: str, data: bytes, max_age: float | None) -> Stored:
        return await asyncio.to_thread(self.put, key, fmt, data)


PREFIX = "nexpress:image:"


class SharedVariants:
    """Variants as entries of the app's cache store (``store()``: the store in use),
    under ``nexpress:image:<key>``; remote ones expire after ``max_age``. A store
    that is down is a miss (the variant is computed and sent, not kept)."""

    def __init__(self, store: Callable[[], Store]) -> None:
        self.store = store

    async def lookup(self, key: str, formats: tuple[str, ...], max_age: float | None) -> Stored | None:
        try:
            entry = await self.store().get(PREFIX + key)
        except StoreUnavailable:
            return None
        if entry is None:
            return None
        fmt = dict(entry.headers).get("format", "")
        return Stored(None, fmt, entry.body, entry.etag) if fmt in EXTENSIONS else None

    async def save(self, key: str, fmt: str, data: bytes, max_age: float | None) -> Stored:
        now = time.time()
        etag = hashlib.sha256(data).hexdigest()[:32]
        entry = Entry(data, headers=[("format", fmt)], created=now, expires=now + max_age if max_age else None, etag=etag)
        try:
            await self.store().set(PREFIX + key, entry)
        except StoreUnavailable:
            pass
        return Stored(None, fmt, data, etag)


class KeyedLocks:
    """One ``asyncio.Lock`` per key while someone holds or waits for it: concurrent
    requests for the same missing variant compute it once, the others wait and then
    find it stored."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)
