"""Failed credentials sign-ins, counted with ``rate_limit``'s stores (memory or Redis).

Three counters per attempt, each a sliding window of ``window`` seconds:

- per (account, address): at most ``limit`` failures, then 429 for that pair only;
- per address: at most ``per_address`` failures (5 x ``limit``) whatever the account,
  then 429 (one address guessing many accounts);
- per account, from every address together: past ``limit`` failures each attempt
  first waits ``slow_down`` seconds. Never a lockout: five wrong passwords from
  one address must not lock the owner out everywhere.

An attempt is counted *before* ``authorize()`` runs (the check and the count are
one atomic step in the store) and taken back when it succeeds, so concurrent
attempts cannot slip past the limit while earlier ones are still being checked.
Addresses are IPv4 addresses or IPv6 /64 networks (one subscriber holds a whole
/64). Account names are hashed in keys (Redis holds no email addresses).

When a Redis store cannot be reached, the limiter counts in this process meanwhile
(fail over, not open: a Redis outage must not lift the limit on password guessing).
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..middleware._common import store_errors
from ..middleware.rate_limit import (
    MAX_KEYS,
    MemoryRateStore,
    RedisRateStore,
    StoreOutage,
    open_store,
    store_kind,
)

__all__ = ["Attempt", "FailureLimiter", "address_key"]

log = logging.getLogger("nexpress.auth")

ADDRESS_FACTOR = 5  # failures one address may make across accounts, in units of ``limit``


def address_key(ip: str) -> str:
    """Who is counted for a client address: an IPv4 address as is (IPv4-mapped IPv6
    too), an IPv6 address by its /64 network. Anything else (a Unix socket, an
    unparsable value) as given, truncated."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip[:64]
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.IPv6Network((int(address) >> 64 << 64, 64))
        return str(network)
    return str(address)


def _account_hash(provider: str, account: str) -> str:
    return hashlib.sha256(f"{provider}\0{account}".encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(slots=True)
class Attempt:
    """One credentials attempt: the keys it was counted under. ``retry_after`` > 0:
    refused (nothing counted); 0: admitted, counted as a failure until
    :meth:`FailureLimiter.succeeded` takes it back."""

    address: str
    pair: str
    account: str
    retry_after: int = 0
    account_counted: bool = False
    slowed: bool = False


class FailureLimiter:
    """Failed sign-in limits (see the module docstring). ``store``: ``"memory://"``
    (this process, at most ``max_keys`` keys, least recently used forgotten first)
    or a Redis URL shared by every instance (keys start with ``prefix``)."""

    def __init__(
        self,
        limit: int = 5,
        window: float = 15 * 60,
        *,
        per_address: int | None = None,
        slow_down: float = 1.0,
        store: str = "memory://",
        prefix: str = "nx:auth:fail:",
        max_keys: int = MAX_KEYS,
    ) -> None:
        if limit < 1 or window <= 0 or math.isinf(window):
            raise ValueError("the failed sign-in limit needs limit >= 1 and 0 < window < inf")
        self.limit = limit
        self.per_address = per_address if per_address is not None else ADDRESS_FACTOR * limit
        self.window = window
        self.window_ms = max(1, round(window * 1000))
        self.slow_down = slow_down
        self.prefix = prefix
        self.local = MemoryRateStore(max_keys=max_keys)
        self.store: MemoryRateStore | RedisRateStore = self.local
        self.sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep  # replaceable in tests
        self.outage = StoreOutage("failed sign-in limiter: store unavailable, counting in this process meanwhile", log)
        self.use_store(store)

    def use_store(self, url: str) -> None:
        """Count in ``url``'s store from now on (``"memory://"``: this process)."""
        kind = store_kind(url, "Auth(failed_sign_in_store=...)")
        self.store = self.local if kind == "memory" else open_store(url, self.prefix)

    @property
    def shared(self) -> bool:
        """True when the counts live in Redis (every instance sees them)."""
        return self.store is not self.local

    async def _on_store(self, operation: Callable[[MemoryRateStore | RedisRateStore], Awaitable[Any]]) -> Any:
        """Run ``operation`` on the shared store, or on this process's while it is down."""
        if self.store is not self.local and not self.outage.paused:
            try:
                return await operation(self.store)
            except store_errors() as exc:
                self.outage.failed(exc)
        return await operation(self.local)

    async def _hit(self, key: str, limit: int) -> Any:
        return await self._on_store(lambda store: store.hit(key, limit, self.window_ms, True))

    async def admit(self, ip: str, provider: str, account: str) -> Attempt:
        """Count an attempt of ``account`` (the first credentials field) from ``ip``
        before its password is checked; refused attempts are not counted."""
        address = address_key(ip)
        who = _account_hash(provider, account)
        attempt = Attempt(f"ip:{address}", f"pair:{who}:{address}", f"account:{who}")
        by_address = await self._hit(attempt.address, self.per_address)
        if not by_address.allowed:
            attempt.retry_after = by_address.retry_after
            return attempt
        by_pair = await self._hit(attempt.pair, self.limit)
        if not by_pair.allowed:
            await self._on_store(lambda store: store.undo(attempt.address))
            attempt.retry_after = by_pair.retry_after
            return attempt
        by_account = await self._hit(attempt.account, self.limit)
        attempt.account_counted = by_account.allowed
        if not by_account.allowed and self.slow_down > 0:
            attempt.slowed = True
            await self.sleep(self.slow_down)
        return attempt

    async def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the (account, address) count starts over, and this
        attempt no longer counts for the address or the account."""
        await self._on_store(lambda store: store.reset(attempt.pair))
        await self._on_store(lambda store: store.undo(attempt.address))
        if attempt.account_counted:
            await self._on_store(lambda store: store.undo(attempt.account))

    async def close(self) -> None:
        """Close the shared store's connections (Auth's shutdown)."""
        if self.store is not self.local:
            await self.store.close()
