"""The data cache and page cache: explicit, visible, shared.

Nothing is cached unless code asks for it: a static page, ``revalidate = N`` on a
page or a ``route.py`` GET, or ``@cached`` on a function. Every cacheable
response says what happened in ``x-nexpress-cache``: ``HIT``, ``MISS``,
``STALE`` (served old, regenerating in the background) or ``PRERENDER`` (from
``nexpress build``).

    from nexpress.cache import cached, revalidate_tag, revalidate_path

    @cached(ttl=60, tags=["posts"])
    async def list_posts(): ...

    await revalidate_tag("posts")        # the data, and every page that used it
    await revalidate_path("/blog", tree=True)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from .stores import Call, Entry, MemoryStore, Store, StoreUnavailable, store_from_url

__all__ = [
    "Cache",
    "Call",
    "Entry",
    "Store",
    "StoreUnavailable",
    "cached",
    "revalidate_path",
    "revalidate_tag",
    "store_from_url",
]

logger = logging.getLogger("nexpress.cache")
F = TypeVar("F", bound=Callable[..., Awaitable[Any]])



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

_current: Cache | None = None


def current_cache() -> Cache:
    """The cache of the running app (the last ``App`` started in this process)."""
    global _current
    if _current is None:
        _current = Cache(MemoryStore())
    return _current


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
        """Make this the cache ``@cached`` and ``revalidate_*`` use in this process."""
        global _current
        _current = self
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
        await self._safely(self.store.delete([page_key(path), api_key(path)]))
        if tree:
            prefix = "" if path == "/" else path
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


def is_stale(entry: Entry, now: float) -> bool:
    """Past its ``revalidate`` seconds (an ISR page due for regeneration, or kept
    after a failed one)."""
    return entry.revalidate is not None and now - entry.created >= entry.revalidate


def regeneration_due(entry: Entry, now: float) -> bool:
    """Stale, and not within ``revalidate`` seconds of a failed regeneration."""
    if not is_stale(entry, now):
        return False
    return entry.failed_at is None or now - entry.failed_at >= entry.revalidate  # type: ignore[operator]


def page_key(path: str) -> str:
    return "page:" + path


def api_key(path: str) -> str:
    return "api:" + path


# --- @cached ----------------------------------------------------------------------------

_args_encoder = msgspec.json.Encoder(order="sorted")


def _call_key(fn: Callable, args: tuple, kwargs: dict) -> str:
    try:
        encoded = _args_encoder.encode([args, kwargs])
    except TypeError as exc:
        raise TypeError(
            f"@cached {fn.__module__}.{fn.__qualname__}: arguments must be JSON-encodable"
            f" (str, int, float, bool, None, list, dict...) to form the cache key: {exc}"
        ) from None
    digest = hashlib.sha256(encoded).hexdigest()[:32]
    return f"data:{fn.__module__}.{fn.__qualname__}:{digest}"


def cached(ttl: float | None = None, tags: list[str] | tuple[str, ...] = ()) -> Callable[[F], F]:
    """Memoise an async function by its arguments in the app's cache.

    ``ttl`` seconds (None: until invalidated), ``tags`` for ``revalidate_tag``.
    Arguments must be JSON-encodable; the result must be msgspec-encodable (dicts,
    lists, Structs, dataclasses, datetimes...); with a return annotation it is
    decoded back into that type. A page rendered while calling it inherits its tags.
    """
    if ttl is not None and ttl <= 0:
        raise ValueError("@cached ttl must be positive (or None for no expiry)")
    tag_list = [str(t) for t in tags]

    def decorate(fn: F) -> F:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"@cached needs an async function; {fn.__qualname__} is not one")
        return_type: Any = Any
        try:
            hints = inspect.get_annotations(fn, eval_str=True)
            return_type = hints.get("return", Any)
        except Exception:
            return_type = Any
        decoder = msgspec.msgpack.Decoder(return_type)
        encoder = msgspec.msgpack.Encoder()

        name = f"{fn.__module__}.{fn.__qualname__}"

        @functools.wraps(fn)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = _call_key(fn, args, kwargs)
            record = _recording.get()
            if record is not None:
                record.add(name, tag_list, key)
            cache = current_cache()
            entry = await cache.get(key)
            if entry is not None:
                try:
                    return decoder.decode(entry.body)
                except (msgspec.DecodeError, msgspec.ValidationError):
                    pass

            async def produce() -> Entry:
                value = await fn(*args, **kwargs)
                now = time.time()
                try:
                    body = encoder.encode(value)
                except TypeError as exc:
                    raise TypeError(
                        f"@cached {fn.__qualname__} returned a value msgspec cannot store: {exc}"
                    ) from None
                return Entry(body=body, created=now, expires=now + ttl if ttl else None, tags=tag_list)

            generation = await cache.generation()
            fresh = await cache.single_flight(key, produce)
            await cache.store_if_current(key, fresh, generation)  # unless invalidated meanwhile
            return decoder.decode(fresh.body)

        return wrapper  # type: ignore[return-value]

    return decorate


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
