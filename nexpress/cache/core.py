"""The per-app cache object: one store for data and pages, revalidation by tag and path, background regeneration, and the record of what a render used."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..http.context import current_context
from .freshness import regeneration_due
from .keys import api_key, page_key
from .stores import Call, Entry, MemoryStore, Store, StoreUnavailable

logger = logging.getLogger("nexpress.cache")
class RenderRecord:
    """What one render used: the tags of the ``@cached`` calls it made (the page
    inherits them) and those calls, one per data entry (``nexpress cache explain``
    shows where each tag came from)."""

    __slots__ = ("calls", "tags")

    def __init__(self) -> None:
        self.tags: set[str] = set()
        self.calls: dict[str, Call] = {}

    def add(self, function: str, tags: list[str], key: str) -> None:
        self.tags.update(tags)
        if key not in self.calls:
            self.calls[key] = Call(function, list(tags), key)

    def call_list(self) -> list[Call]:
        return sorted(self.calls.values(), key=lambda call: (call.function, call.key))


_recording: contextvars.ContextVar[RenderRecord | None] = contextvars.ContextVar("nexpress_render", default=None)

_activated: contextvars.ContextVar[Cache] = contextvars.ContextVar("nexpress_cache")
_outside: Cache | None = None


def current_cache() -> Cache:
    """The cache of the app this code runs for: the request's (or start-up's) context
    names its app (``App.__call__`` sets it, see ``http.context.enter_context``), so two
    apps in one process never share data. Outside any app: the cache a script or test
    activated, else one in-memory cache for the process."""
    context = current_context()
    if context is not None and context.cache is not None:
        return context.cache
    cache = _activated.get(None)
    if cache is not None:
        return cache
    global _outside
    if _outside is None:
        _outside = Cache(MemoryStore())
    return _outside


class Cache:
    """One app's cache: a store plus single-flight bookkeeping for this process."""

    LOCK_SECONDS = 60.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._inflight: dict[str, asyncio.Future] = {}
        self._regenerating: set[str] = set()
        self._background: set[asyncio.Task] = set()
        self._warned_at = 0.0
        self._retry_at = 0.0
        self._listeners: list[Callable[[str, str], None]] = []
        self.available = True
        self.locales: tuple[str, ...] = ()
        """The app's locales (``App(i18n=...)``): ``revalidate_path("/blog")`` drops
        ``/blog`` in each of them, ``revalidate_path("/fr/blog")`` that one only."""

    def add_listener(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(event, key)`` on background work the response headers do
        not show (metrics, logs): ``"regenerated"`` (an ISR regeneration stored a new
        version), ``"regeneration_failed"`` (it raised or rendered nothing; the old
        version stays), ``"regeneration_discarded"`` (invalidated while rendering).
        Adding the same listener twice keeps one."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def _notify(self, event: str, key: str) -> None:
        for listener in self._listeners:
            try:
                listener(event, key)
            except Exception:
                logger.exception("cache listener %r failed on %s", listener, event)

    def activate(self) -> Cache:
        """Make this the cache ``@cached`` and ``revalidate_*`` use in the running
        context when no app runs it (a script, a test; an app's requests use its own)."""
        _activated.set(self)
        return self

    def use_store(self, store: Store) -> None:
        """Switch to another store (``nexpress build`` renders into a private one)."""
        self.store = store
        self.available = True

    # --- store access that never fails a request ---------------------------------

    RETRY_SECONDS = 0.5

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        if self.available or now - self._warned_at > 30:
            logger.warning("cache store unavailable, rendering without it: %s", exc)
            self._warned_at = now
        self.available = False
        # a store that hangs would cost its timeout on every request: skip it briefly
        self._retry_at = now + self.RETRY_SECONDS

    def _skipping(self) -> bool:
        return not self.available and time.monotonic() < self._retry_at

    def _ok(self) -> None:
        if not self.available:
            logger.warning("cache store reachable again: caching resumes")
        self.available = True

    async def get(self, key: str) -> Entry | None:
        store = self.store
        if isinstance(store, MemoryStore):
            return store.get_now(key)
        if self._skipping():
            return None
        try:
            entry = await store.get(key)
        except StoreUnavailable as exc:
            self._unavailable(exc)
            return None
        self._ok()
        return entry

    async def set(self, key: str, entry: Entry, *, only_if_absent: bool = False) -> None:
        if self._skipping():
            return
        try:
            await self.store.set(key, entry, only_if_absent=only_if_absent)
        except StoreUnavailable as exc:
            self._unavailable(exc)
            return
        self._ok()

    async def _safely(self, coro: Awaitable[Any], default: Any = None) -> Any:
        try:
            result = await coro
        except StoreUnavailable as exc:
            self._unavailable(exc)
            return default
        self._ok()
        return result

    # --- invalidation ------------------------------------------------------------------

    async def generation(self) -> int:
        """The store's invalidation counter (shared across instances for SQLite/Redis)."""
        return await self._safely(self.store.generation(), -1)

    async def store_if_current(self, key: str, entry: Entry, generation: int) -> bool:
        """Store a render that began at ``generation`` unless an invalidation came since,
        here or on another instance (it may have read data older than the invalidation).
        The check and the write are separate store calls, so the counter is read again
        after writing: an invalidation that slipped in between drops what was written."""
        if generation != await self.generation():
            return False
        await self.set(key, entry)
        if generation != await self.generation():
            await self._safely(self.store.delete([key]))
            return False
        return True

    async def revalidate_tag(self, tag: str) -> list[str]:
        await self._safely(self.store.bump_generation())
        keys = await self._safely(self.store.invalidate_tag(tag), [])
        logger.info("revalidate_tag(%r): dropped %d entries", tag, len(keys))
        return keys

    async def revalidate_path(self, path: str, tree: bool = False) -> None:
        path = "/" + path.strip("/") if path.strip("/") else "/"
        await self._safely(self.store.bump_generation())
        paths = localized_paths(path, self.locales)
        await self._safely(self.store.delete([key for each in paths for key in (page_key(each), api_key(each))]))
        if tree:
            for each in paths:
                prefix = "" if each == "/" else each
                await self._safely(self.store.delete_prefix(page_key(prefix + "/")))
                await self._safely(self.store.delete_prefix(api_key(prefix + "/")))

    async def clear(self) -> None:
        await self._safely(self.store.clear())

    async def purge_all(self) -> None:
        """Drop every entry (``nexpress cache purge --all``); renders under way do not
        store their result."""
        await self._safely(self.store.clear())
        await self._safely(self.store.bump_generation())

    # --- single flight -------------------------------------------------------------------

    async def single_flight(self, key: str, produce: Callable[[], Awaitable[Entry]]) -> Entry:
        """Run ``produce`` once for concurrent callers in this process."""
        future = self._inflight.get(key)
        if future is not None:
            return await asyncio.shield(future)
        future = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            entry = await produce()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it
            raise
        else:
            future.set_result(entry)
            return entry
        finally:
            del self._inflight[key]

    def regenerate_soon(self, key: str, produce: Callable[[], Awaitable[Entry | None]]) -> None:
        """Start one background regeneration of ``key``: single-flight in this
        process, and across instances through the store's lock."""
        if key in self._regenerating:
            return
        self._regenerating.add(key)
        task = asyncio.get_running_loop().create_task(self._regenerate(key, produce))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _regenerate(self, key: str, produce: Callable[[], Awaitable[Entry | None]]) -> None:
        token = None
        try:
            try:
                token = await self.store.acquire("regen:" + key, self.LOCK_SECONDS)
            except StoreUnavailable as exc:
                self._unavailable(exc)
                return
            if token is None:
                return  # another instance is regenerating it
            current = await self.get(key)
            if current is not None and not regeneration_due(current, time.time()):
                return  # someone already did, or a failed one is waiting its turn
            generation = await self.generation()
            try:
                entry = await produce()
            except Exception:
                entry = None
                logger.exception("regenerating %s failed; still serving the previous version", key)
            if entry is None:
                self._notify("regeneration_failed", key)
                if current is not None:
                    # keep the old page (served as STALE: it is) and wait a full revalidate
                    # period before trying again, instead of re-rendering a failing page
                    # on every request
                    current.failed_at = time.time()
                    await self.set(key, current)
                return
            if await self.store_if_current(key, entry, generation):  # not invalidated while rendering
                self._notify("regenerated", key)
            else:
                self._notify("regeneration_discarded", key)
        except Exception:
            logger.exception("regenerating %s failed; still serving the previous version", key)
        finally:
            self._regenerating.discard(key)
            if token is not None:
                try:
                    await self.store.release("regen:" + key, token)
                except StoreUnavailable:
                    pass

    async def drain(self) -> None:
        """Wait for background regenerations (tests, shutdown)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    async def close(self) -> None:
        await self.drain()
        await self.store.close()


def localized_paths(path: str, locales: tuple[str, ...]) -> list[str]:
    """The page paths ``revalidate_path(path)`` drops: ``path`` itself, and when it
    names no locale, the same page in every locale (``/blog`` -> ``/blog``,
    ``/en/blog``, ``/fr/blog``); ``/fr/blog`` is that page only."""
    first = path.split("/", 2)[1]
    if not locales or first in locales:
        return [path]
    return [path, *(f"/{locale}" if path == "/" else f"/{locale}{path}" for locale in locales)]


async def revalidate_tag(tag: str) -> list[str]:
    """Drop every cached value and page tagged ``tag`` (in every instance sharing the store)."""
    return await current_cache().revalidate_tag(tag)


async def revalidate_path(path: str, tree: bool = False) -> None:
    """Drop the cached page (or cached API response) at ``path``; ``tree=True``: all below it too."""
    await current_cache().revalidate_path(path, tree)


def start_recording() -> tuple[contextvars.Token, RenderRecord]:
    """Record the ``@cached`` calls of the render that follows (in this context)."""
    record = RenderRecord()
    return _recording.set(record), record


def stop_recording(token: contextvars.Token) -> None:
    _recording.reset(token)


def current_record() -> RenderRecord | None:
    """The record of the render running in this context, if one is recording."""
    return _recording.get()
