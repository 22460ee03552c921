"""What several batteries share: ``Vary`` handling, optional-async callables, and
Redis clients bound to the running event loop (for ``rate_limit`` and ``sessions``)."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING

from .._optional import require

if TYPE_CHECKING:
    import redis.asyncio as aioredis



def store_errors() -> tuple[type[BaseException], ...]:
    """What a store raises when its server is down, slow or unreachable: ``OSError``,
    and redis-py's errors once a Redis store has loaded it (redis is an extra, imported
    by the first :class:`LoopRedis`; before that nothing can raise its errors). Called
    in an ``except`` clause, so only when something was raised."""
    loaded = sys.modules.get("redis.exceptions")
    return (OSError,) if loaded is None else (loaded.RedisError, OSError)


def store_kind_of(url: str | None) -> str | None:
    """``"memory"``, ``"redis"``, or None for a URL that is neither."""
    if url is None or url == "memory://":
        return "memory"
    if url.startswith(("redis://", "rediss://", "unix://")):
        return "redis"
    return None


def store_kind(url: str | None, what: str) -> str:
    """``"memory"`` or ``"redis"`` for a store URL; anything else is an error naming
    the option and the accepted forms."""
    kind = store_kind_of(url)
    if kind is not None:
        return kind
    raise ValueError(
        f"{what}: unsupported store {url!r}; use 'memory://' (this process only) or"
        " 'redis://host:6379/0' (shared by every instance)"
    )


def store_or_shared_cache(own: str | None, app_cache_url: object) -> str:
    """The store a feature counts or remembers in: its own option when given, else
    the app's cache store when every instance shares it (Redis), else this process's
    memory (a sqlite:// cache is not a key-value store for these features)."""
    if own is not None:
        return own
    if isinstance(app_cache_url, str) and store_kind_of(app_cache_url) == "redis":
        return app_cache_url
    return "memory://"


class LoopRedis:
    """A redis-py asyncio client created on first use in each event loop.

    An asyncio connection belongs to the loop that opened it; a middleware object
    can outlive a loop (a test client per test, a server reload), so the client is
    re-created when the running loop changes. Short timeouts keep a Redis outage
    from stalling requests: the callers decide what an outage means.
    """

    def __init__(self, url: str) -> None:
        self._redis = require("redis.asyncio", "redis", "a Redis store (store='redis://...')")
        self.url = url
        self._client: aioredis.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def client(self) -> aioredis.Redis:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._redis.Redis.from_url(
                self.url,
                socket_timeout=1.0,
                socket_connect_timeout=0.5,
                retry_on_timeout=False,
                health_check_interval=0,
            )
            self._loop = loop
        return self._client

    async def close(self) -> None:
        """Close the connections of the current loop's client (call it on shutdown)."""
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None
        self._loop = None
