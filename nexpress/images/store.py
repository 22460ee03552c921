"""Where variants are kept: files under ``.nexpress/images/``, written atomically, and
the per-key locks that make each variant computed once per instance.

A variant's file is named by its key and format (``ab/ab12....webp``): the key already
holds the source's version (its size and modification time, or its URL for a remote
source), so a changed source gets new keys and old variants are simply never asked for.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

__all__ = ["DiskVariants", "KeyedLocks", "Stored"]

EXTENSIONS = ("avif", "webp", "jpeg", "png", "gif", "svg")


@dataclass(frozen=True, slots=True)
class Stored:
    """A variant on disk."""

    path: str
    format: str


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
