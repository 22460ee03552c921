"""Cache stores behind one interface, chosen by URL.

- ``memory://?max_bytes=64MiB&max_entries=10000`` (default): this process only,
  LRU-bounded by bytes and by entries; pages prerendered by ``nexpress build`` are
  never evicted in favour of request-driven entries.
- ``sqlite:///path/cache.db``: shared by the processes of one machine.
- ``redis://host:port/db``: shared by every instance; invalidation is one Redis
  operation that every instance sees at once (no local copies are kept), and
  locks make regeneration single-flight across instances.

Stores hold :class:`Entry` objects; remote stores encode them with msgpack.
Every store lists its entries (:meth:`Store.entries`) for ``nexpress cache ls``.
A store that cannot be reached raises :class:`StoreUnavailable`; the cache
layer turns that into a miss and a warning, never a failed request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    import sqlite3  # loaded by the first SQLiteStore: a memory or Redis cache never pays it

import msgspec

from .._optional import require
from ..config import parse_size

logger = logging.getLogger("nexpress.cache")

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 64 * MiB
DEFAULT_MAX_ENTRIES = 10_000
LIST_BATCH = 500


class StoreUnavailable(Exception):
    """The store could not be reached (connection refused, timeout...)."""


class Call(msgspec.Struct, array_like=True):
    """A ``@cached`` function a render called: ``module.qualname``, its tags, and
    the key of the data entry it read or wrote."""

    function: str
    tags: list[str] = []
    key: str = ""


class Entry(msgspec.Struct, array_like=True):
    """A cached value: a rendered page/API response, or a ``@cached`` result.

    Fields are only ever appended, with defaults (entries written by an older
    version decode with the defaults; older versions ignore the new fields)."""

    body: bytes
    status: int = 200
    headers: list[tuple[str, str]] = []
    created: float = 0.0
    revalidate: int | None = None  # seconds before it is stale (ISR); None: never
    expires: float | None = None  # absolute time after which it is gone (TTL)
    tags: list[str] = []
    prerendered: bool = False
    calls: list[Call] = []  # the @cached functions the render called (what explain shows)
    etag: str = ""  # strong validator of body ("" for entries of older versions: computed)
    failed_at: float | None = None  # when its last regeneration failed (still served, STALE)


def body_etag(body: bytes) -> str:
    """A strong ETag for a response body: equal bodies, equal tags, on every instance."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def entry_etag(entry: Entry) -> str:
    """The entry's ETag, computed once for entries stored without one."""
    if not entry.etag:
        entry.etag = body_etag(entry.body)
    return entry.etag


# What one entry costs in the memory store besides its bytes (the Entry object, its
# lists, the dict slots and index sets), measured with tracemalloc on CPython 3.12:
# see tests/test_cache.py::test_memory_store_accounting_matches_the_heap.
ENTRY_OVERHEAD = 480


def entry_size(key: str, entry: Entry) -> int:
    """Approximate bytes ``entry`` holds in memory under ``key`` (the memory store's
    byte bound counts this)."""
    size = ENTRY_OVERHEAD + len(entry.body) + len(key) + len(entry.etag)
    for name, value in entry.headers:
        size += len(name) + len(value) + 120
    for tag in entry.tags:
        size += len(tag) + 60
    for call in entry.calls:
        size += len(call.function) + len(call.key) + 200 + 20 * len(call.tags)
    return size


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Entry)


def encode_entry(entry: Entry) -> bytes:
    return _encoder.encode(entry)


def decode_entry(data: bytes) -> Entry | None:
    try:
        return _decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None  # written by another version: treat as a miss


class Store:
    """The interface every store implements (all methods are coroutines)."""

    url = ""

    async def get(self, key: str) -> Entry | None:
        raise NotImplementedError

    async def set(self, key: str, entry: Entry, *, only_if_absent: bool = False) -> None:
        raise NotImplementedError

    async def delete(self, keys: Iterable[str]) -> None:
        raise NotImplementedError

    async def delete_prefix(self, prefix: str) -> None:
        raise NotImplementedError

    async def invalidate_tag(self, tag: str) -> list[str]:
        """Delete every entry carrying ``tag``; return their keys."""
        raise NotImplementedError

    def entries(self, prefix: str = "") -> AsyncIterator[tuple[str, Entry]]:
        """Every live entry whose key starts with ``prefix``, as ``(key, entry)``, in
        batches (``nexpress cache ls``, the dev page). Not a snapshot: entries
        written meanwhile may or may not appear."""
        raise NotImplementedError

    async def acquire(self, name: str, seconds: float) -> str | None:
        """A lock shared by every user of the store; a token, or None if taken."""
        return "local"

    async def generation(self) -> int:
        """A counter every invalidation bumps, shared by every user of the store: a
        render that saw another value when it started must not store its result."""
        return self._generation

    async def bump_generation(self) -> None:
        self._generation += 1

    _generation = 0

    async def release(self, name: str, token: str) -> None:
        return None

    async def clear(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        return None


class MemoryStore(Store):
    """In-process LRU store (entries kept as objects: a hit costs a dict lookup).

    Bounded by ``max_bytes`` (what the entries hold, see :func:`entry_size`) and
    ``max_entries``: past either, the least recently used request-driven entries go.
    Keys that ``nexpress build`` prerendered are *pinned*: they live apart from the
    LRU and are never evicted to make room (an ISR regeneration of such a page stays
    pinned), so a flood of unique URLs cannot push the built pages out."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_entries < 1:
            raise ValueError("memory store max_entries must be at least 1")
        if max_bytes < 1:
            raise ValueError("memory store max_bytes must be at least 1")
        self.url = f"memory://?max_bytes={max_bytes}&max_entries={max_entries}"
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.bytes = 0
        """Bytes the entries hold now (never above ``max_bytes`` but for pinned pages)."""
        self._lru: OrderedDict[str, Entry] = OrderedDict()  # evictable, oldest first
        self._pinned: dict[str, Entry] = {}  # prerendered keys: never evicted
        self._pinned_keys: set[str] = set()
        self._sizes: dict[str, int] = {}
        self._tags: dict[str, set[str]] = {}
        self._warned_pinned = False

    def get_now(self, key: str) -> Entry | None:
        """Synchronous lookup (the hot path uses it to skip a coroutine)."""
        entry = self._lru.get(key)
        if entry is None:
            entry = self._pinned.get(key)
            if entry is None:
                return None
        else:
            self._lru.move_to_end(key)
        if entry.expires is not None and entry.expires <= time.time():
            self._drop(key)
            return None
        return entry

    async def get(self, key: str) -> Entry | None:
        return self.get_now(key)

    async def set(self, key: str, entry: Entry, *, only_if_absent: bool = False) -> None:
        if only_if_absent and self.get_now(key) is not None:
            return
        self._drop(key)
        if entry.prerendered:
            self._pinned_keys.add(key)
        size = entry_size(key, entry)
        if key in self._pinned_keys:
            self._pinned[key] = entry
        else:
            self._lru[key] = entry
        self._sizes[key] = size
        self.bytes += size
        for tag in entry.tags:
            self._tags.setdefault(tag, set()).add(key)
        self._evict()

    def _evict(self) -> None:
        lru = self._lru
        while lru and (self.bytes > self.max_bytes or len(lru) + len(self._pinned) > self.max_entries):
            self._drop(next(iter(lru)))
        if self.bytes > self.max_bytes and not self._warned_pinned:
            self._warned_pinned = True
            logger.warning(
                "memory cache: prerendered pages alone take %d bytes, more than max_bytes=%d;"
                " they are kept, nothing else is cached. Raise it: memory://?max_bytes=...",
                self.bytes,
                self.max_bytes,
            )

    def _drop(self, key: str) -> None:
        entry = self._lru.pop(key, None)
        if entry is None:
            entry = self._pinned.pop(key, None)
            if entry is None:
                return
        self.bytes -= self._sizes.pop(key, 0)
        for tag in entry.tags:
            keys = self._tags.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tags[tag]

    async def delete(self, keys: Iterable[str]) -> None:
        for key in list(keys):
            self._drop(key)

    async def delete_prefix(self, prefix: str) -> None:
        for key in [k for k in (*self._pinned, *self._lru) if k.startswith(prefix)]:
            self._drop(key)

    async def invalidate_tag(self, tag: str) -> list[str]:
        keys = list(self._tags.get(tag, ()))
        await self.delete(keys)
        return keys

    async def entries(self, prefix: str = "") -> AsyncIterator[tuple[str, Entry]]:
        now = time.time()
        for key, entry in [*self._pinned.items(), *self._lru.items()]:
            if key.startswith(prefix) and (entry.expires is None or entry.expires > now):
                yield key, entry

    def pinned(self, key: str) -> bool:
        """True when ``key`` was prerendered by ``nexpress build`` (never evicted)."""
        return key in self._pinned_keys

    async def clear(self) -> None:
        self._lru.clear()
        self._pinned.clear()
        self._sizes.clear()
        self._tags.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._lru) + len(self._pinned)


class SQLiteStore(Store):
    """A cache in one SQLite file (WAL), shared by the processes of one machine."""

    def __init__(self, path: str) -> None:
        self.url = f"sqlite:///{path}"
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        import sqlite3

        if self._conn is None:
            folder = os.path.dirname(os.path.abspath(self.path))
            os.makedirs(folder, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL)")
            conn.execute("CREATE TABLE IF NOT EXISTS tags (tag TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (tag, key))")
            conn.execute("CREATE TABLE IF NOT EXISTS locks (name TEXT PRIMARY KEY, token TEXT NOT NULL, until REAL NOT NULL)")
            self._conn = conn
        return self._conn

    async def _run(self, fn, *args: Any) -> Any:
        import sqlite3

        async with self._lock:
            try:
                return await asyncio.to_thread(fn, self._connect(), *args)
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"sqlite cache {self.path}: {exc}") from exc

    async def get(self, key: str) -> Entry | None:
        def read(conn: sqlite3.Connection, key: str) -> bytes | None:
            row = conn.execute("SELECT value, expires FROM entries WHERE key = ?", (key,)).fetchone()
            if row is None:
                return None
            if row[1] is not None and row[1] <= time.time():
                conn.execute("DELETE FROM entries WHERE key = ?", (key,))
                return None
            return row[0]

        data = await self._run(read, key)
        return None if data is None else decode_entry(data)

    async def set(self, key: str, entry: Entry, *, only_if_absent: bool = False) -> None:
        value = encode_entry(entry)

        def write(conn: sqlite3.Connection) -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if only_if_absent and conn.execute("SELECT 1 FROM entries WHERE key = ?", (key,)).fetchone():
                    return
                conn.execute(
                    "INSERT OR REPLACE INTO entries (key, value, expires) VALUES (?, ?, ?)",
                    (key, value, entry.expires),
                )
                conn.execute("DELETE FROM tags WHERE key = ?", (key,))
                conn.executemany("INSERT OR IGNORE INTO tags (tag, key) VALUES (?, ?)", [(t, key) for t in entry.tags])
            finally:
                conn.execute("COMMIT")

        await self._run(write)

    async def delete(self, keys: Iterable[str]) -> None:
        rows = [(k,) for k in keys]

        def remove(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM entries WHERE key = ?", rows)
            conn.executemany("DELETE FROM tags WHERE key = ?", rows)

        await self._run(remove)

    async def delete_prefix(self, prefix: str) -> None:
        # substr, not LIKE: LIKE ignores ASCII case, and /Blog is not /blog
        size = len(prefix)

        def remove(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM entries WHERE substr(key, 1, ?) = ?", (size, prefix))
            conn.execute("DELETE FROM tags WHERE substr(key, 1, ?) = ?", (size, prefix))

        await self._run(remove)

    async def invalidate_tag(self, tag: str) -> list[str]:
        def remove(conn: sqlite3.Connection) -> list[str]:
            keys = [row[0] for row in conn.execute("SELECT key FROM tags WHERE tag = ?", (tag,))]
            conn.executemany("DELETE FROM entries WHERE key = ?", [(k,) for k in keys])
            conn.executemany("DELETE FROM tags WHERE key = ?", [(k,) for k in keys])
            return keys

        return await self._run(remove)

    async def entries(self, prefix: str = "") -> AsyncIterator[tuple[str, Entry]]:
        size = len(prefix)

        def page(conn: sqlite3.Connection, after: str) -> list[tuple[str, bytes, float | None]]:
            return conn.execute(
                "SELECT key, value, expires FROM entries WHERE key > ? AND substr(key, 1, ?) = ?"
                " ORDER BY key LIMIT ?",
                (after, size, prefix, LIST_BATCH),
            ).fetchall()

        after = ""
        while True:
            rows = await self._run(page, after)
            now = time.time()
            for key, value, expires in rows:
                entry = decode_entry(value)
                if entry is not None and (expires is None or expires > now):
                    yield key, entry
            if len(rows) < LIST_BATCH:
                return
            after = rows[-1][0]

    async def acquire(self, name: str, seconds: float) -> str | None:
        token = uuid.uuid4().hex

        def take(conn: sqlite3.Connection) -> str | None:
            now = time.time()
            conn.execute("DELETE FROM locks WHERE until <= ?", (now,))
            cursor = conn.execute(
                "INSERT OR IGNORE INTO locks (name, token, until) VALUES (?, ?, ?)", (name, token, now + seconds)
            )
            return token if cursor.rowcount == 1 else None

        return await self._run(take)

    async def release(self, name: str, token: str) -> None:
        await self._run(lambda conn: conn.execute("DELETE FROM locks WHERE name = ? AND token = ?", (name, token)))

    async def generation(self) -> int:
        def read(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT token FROM locks WHERE name = '#generation'").fetchone()
            return int(row[0]) if row else 0

        return await self._run(read)

    async def bump_generation(self) -> None:
        def bump(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO locks (name, token, until) VALUES ('#generation', '1', 1e18)"
                " ON CONFLICT(name) DO UPDATE SET token = CAST(token AS INTEGER) + 1"
            )

        await self._run(bump)

    async def clear(self) -> None:
        def wipe(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM entries")
            conn.execute("DELETE FROM tags")

        await self._run(wipe)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end
"""


class RedisStore(Store):
    """A cache in Redis (redis-py asyncio), shared by every instance."""

    def __init__(self, url: str, prefix: str = "nx:") -> None:
        # redis is an extra: loaded when an app chooses this store
        aioredis = require("redis.asyncio", "redis", "the Redis cache store")
        self.url = url
        self.prefix = prefix
        self.client = aioredis.Redis.from_url(
            url, socket_timeout=1.0, socket_connect_timeout=0.5, retry_on_timeout=False, health_check_interval=0
        )

    def _errors(self) -> tuple[type[BaseException], ...]:
        import redis.exceptions

        return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)

    async def _call(self, coro) -> Any:
        try:
            return await coro
        except self._errors() as exc:
            raise StoreUnavailable(f"redis cache {self.url}: {exc}") from exc

    def _key(self, key: str) -> str:
        return self.prefix + "e:" + key

    async def get(self, key: str) -> Entry | None:
        data = await self._call(self.client.get(self._key(key)))
        return None if data is None else decode_entry(data)

    async def set(self, key: str, entry: Entry, *, only_if_absent: bool = False) -> None:
        ttl_ms = None
        full = self._key(key)
        if entry.expires is not None:
            ttl_ms = int((entry.expires - time.time()) * 1000)
            if ttl_ms <= 0:  # already expired: nothing to keep
                await self._call(self.client.delete(full))
                return

        async def write() -> None:
            if only_if_absent:
                done = await self.client.set(full, encode_entry(entry), px=ttl_ms, nx=True)
                if not done:
                    return
            async with self.client.pipeline(transaction=True) as pipe:
                if not only_if_absent:
                    pipe.set(full, encode_entry(entry), px=ttl_ms)
                for tag in entry.tags:
                    pipe.sadd(self.prefix + "t:" + tag, key)
                await pipe.execute()

        await self._call(write())

    async def delete(self, keys: Iterable[str]) -> None:
        names = [self._key(k) for k in keys]
        if names:
            await self._call(self.client.delete(*names))

    async def delete_prefix(self, prefix: str) -> None:
        async def scan() -> None:
            batch = []
            async for name in self.client.scan_iter(match=_glob_escape(self._key(prefix)) + "*", count=500):
                batch.append(name)
                if len(batch) >= 500:
                    await self.client.delete(*batch)
                    batch.clear()
            if batch:
                await self.client.delete(*batch)

        await self._call(scan())

    async def invalidate_tag(self, tag: str) -> list[str]:
        tag_key = self.prefix + "t:" + tag

        async def run() -> list[str]:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.smembers(tag_key)
                pipe.delete(tag_key)
                members, _ = await pipe.execute()
            keys = [m.decode() if isinstance(m, bytes) else m for m in members]
            if keys:
                await self.client.delete(*[self._key(k) for k in keys])
            return keys

        return await self._call(run())

    async def entries(self, prefix: str = "") -> AsyncIterator[tuple[str, Entry]]:
        start = len(self._key(""))
        names: list[bytes] = []
        try:
            async for name in self.client.scan_iter(match=_glob_escape(self._key(prefix)) + "*", count=LIST_BATCH):
                names.append(name)
                if len(names) >= LIST_BATCH:
                    for item in await self._decoded(names, start):
                        yield item
                    names = []
            for item in await self._decoded(names, start):
                yield item
        except self._errors() as exc:
            raise StoreUnavailable(f"redis cache {self.url}: {exc}") from exc

    async def _decoded(self, names: list[bytes], start: int) -> list[tuple[str, Entry]]:
        if not names:
            return []
        found = []
        for name, value in zip(names, await self.client.mget(names), strict=True):
            entry = None if value is None else decode_entry(value)
            if entry is not None:
                key = name.decode() if isinstance(name, bytes) else name
                found.append((key[start:], entry))
        return found

    async def acquire(self, name: str, seconds: float) -> str | None:
        token = uuid.uuid4().hex
        ok = await self._call(self.client.set(self.prefix + "l:" + name, token, nx=True, px=int(seconds * 1000)))
        return token if ok else None

    async def release(self, name: str, token: str) -> None:
        await self._call(self.client.eval(_RELEASE, 1, self.prefix + "l:" + name, token))

    async def generation(self) -> int:
        value = await self._call(self.client.get(self.prefix + "generation"))
        return int(value or 0)

    async def bump_generation(self) -> None:
        await self._call(self.client.incr(self.prefix + "generation"))

    async def clear(self) -> None:
        async def wipe() -> None:
            batch = []
            async for name in self.client.scan_iter(match=_glob_escape(self.prefix) + "*", count=500):
                batch.append(name)
            if batch:
                await self.client.delete(*batch)

        await self._call(wipe())

    async def close(self) -> None:
        try:
            await self.client.aclose()
        except Exception:
            pass


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def store_from_url(url: str, root: str = ".") -> Store:
    """Build a store from ``memory://``, ``sqlite:///path`` or ``redis://...``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "memory":
        return _memory_store(url, parse_qs(parts.query))
    if scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else parts.path
        if not path:
            raise ValueError(f"cache URL {url!r}: give a file, e.g. sqlite:///.nexpress/cache.db")
        if not os.path.isabs(path):
            path = os.path.join(root, path)
        return SQLiteStore(path)
    if scheme in ("redis", "rediss", "unix"):
        return RedisStore(url)
    raise ValueError(f"unknown cache URL {url!r}: use memory://, sqlite:///path or redis://host:port/db")


def _memory_store(url: str, options: dict[str, list[str]]) -> MemoryStore:
    """``memory://?max_bytes=64MiB&max_entries=10000`` (either may be left out)."""
    unknown = set(options) - {"max_bytes", "max_entries"}
    if unknown:
        raise ValueError(f"cache URL {url!r}: unknown option(s) {sorted(unknown)}; use max_bytes and max_entries")
    try:
        max_entries = int(options.get("max_entries", [str(DEFAULT_MAX_ENTRIES)])[0])
    except ValueError:
        raise ValueError(f"cache URL {url!r}: max_entries must be a number") from None
    try:
        max_bytes = parse_size(options.get("max_bytes", [str(DEFAULT_MAX_BYTES)])[0])
    except ValueError as exc:
        raise ValueError(f"cache URL {url!r}: max_bytes must be {exc}") from None
    return MemoryStore(max_entries, max_bytes)
