"""The Redis database of the middleware-battery tests (rate limits, sessions).

Database 12 is theirs alone; each test still uses its own keys, so tests sharing a
module-wide server never see each other's counts. Redis unreachable: skip locally,
fail when ``CI=true`` (a missing service is a failure there).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from helpers import redis_or_skip

REDIS_DB = 12
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0, socket_timeout=5.0)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """``redis://127.0.0.1:6379/12``, flushed before and after the module."""
    client = redis_or_skip(REDIS_URL, socket_timeout=5.0)
    client.flushdb()
    try:
        yield REDIS_URL
    finally:
        try:
            client.flushdb()
        finally:
            client.close()


def unique(label: str) -> str:
    """A name no other test (or earlier run) uses."""
    return f"{label}-{uuid.uuid4().hex[:12]}"
