"""``rate_limit()``: per-client request limits, as Express's ``express-rate-limit``.

    app.use("/api", rate_limit(limit=100, window=60))                       # this process
    app.use("/api", rate_limit(limit=100, window=60, store="redis://redis:6379/0"))  # global

Every response under the limiter carries the IETF ``RateLimit-Limit``,
``RateLimit-Remaining``, ``RateLimit-Reset`` and ``RateLimit-Policy`` headers
(draft-ietf-httpapi-ratelimit-headers, the form express-rate-limit calls
"draft-6"). A client over the limit gets ``429 Too Many Requests`` (problem+json,
or HTML for browsers) with ``Retry-After``.

Algorithms, both O(1) memory per client:

- ``"fixed"``: windows aligned to the clock (every instance agrees on them); at
  most ``limit`` requests per window, the count starting over at each boundary.
- ``"sliding"``: the sliding-window counter: the previous window's count,
  weighted by how much of it still overlaps the last ``window`` seconds, plus
  the current count. No burst of 2x ``limit`` across a boundary.

Requests refused with 429 do not count. The Redis store runs the whole
read-check-increment as one Lua script with Redis's own clock, so several
instances share one exact limit. If the store cannot be reached the request is
let through (fail open) and a warning is logged at most every 10 seconds: an
outage of the limiter must not become an outage of the site.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..http.calls import is_async_callable
from ..http.errors import HTTPError
from ._common import LoopRedis, store_errors, store_kind
from .chain import Middleware

if TYPE_CHECKING:
    from ..http.request import Request
    from ..http.response import Response

__all__ = [
    "MAX_KEYS",
    "Decision",
    "MemoryRateStore",
    "RateLimit",
    "RedisRateStore",
    "WindowState",
    "advance",
    "describe",
    "open_store",
    "rate_limit",
    "store_kind",
]

log = logging.getLogger("nexpress.rate_limit")

_WARN_EVERY = 10.0  # seconds between two "store unavailable" warnings
_PAUSE_AFTER_FAILURE = 1.0  # seconds during which a failed store is not retried


class StoreOutage:
    """When a shared store failed: it is not asked again for a second, and the
    warning saying what happens meanwhile is logged at most every ten seconds
    (a Redis outage under load must not flood the log)."""

    def __init__(self, what: str, logger: logging.Logger = log) -> None:
        self.what = what  # "rate_limit: store unavailable, letting requests through"
        self.logger = logger
        self._paused_until = -math.inf
        self._warned_at = -math.inf

    @property
    def paused(self) -> bool:
        return time.monotonic() < self._paused_until

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._paused_until = now + _PAUSE_AFTER_FAILURE
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            self.logger.warning("%s: %s", self.what, exc)
_MAX_KEY = 200  # longer client keys are hashed (a key may come from a header)
MAX_KEYS = 100_000  # clients the memory store keeps; beyond, the least recently seen is forgotten


# --- the algorithm, as pure functions ---------------------------------------------------


@dataclass(slots=True)
class WindowState:
    """What a store keeps per client: the current window's index and count, and the
    count of the window before it (used by the sliding algorithm only)."""

    window: int
    count: int
    previous: int


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # seconds until the current window ends (or until a retry can pass)
    retry_after: int  # seconds until one more request would be allowed (0 when allowed)


def advance(state: WindowState | None, now_ms: int, window_ms: int, limit: int, sliding: bool) -> tuple[WindowState, bool, int]:
    """Count one request at ``now_ms``: (new state, allowed, ms elapsed in the window).

    The Redis Lua script below is the same function; keep them in step.
    """
    index = now_ms // window_ms
    elapsed = now_ms - index * window_ms
    if state is None or state.window != index:
        previous = state.count if state is not None and state.window == index - 1 else 0
        count = 0
    else:
        previous, count = state.previous, state.count
    if not sliding:
        previous = 0
    allowed = previous * (window_ms - elapsed) + count * window_ms <= (limit - 1) * window_ms
    if allowed:
        count += 1
    return WindowState(index, count, previous), allowed, elapsed


def describe(allowed: bool, count: int, previous: int, elapsed_ms: int, window_ms: int, limit: int, sliding: bool) -> Decision:
    """Headers' numbers for a state ``advance`` produced (integer arithmetic in ms)."""
    weighted = previous * (window_ms - elapsed_ms) + count * window_ms
    remaining = max(0, (limit * window_ms - weighted) // window_ms)
    to_window_end = window_ms - elapsed_ms
    retry_ms = 0 if allowed else _retry_ms(count, previous, elapsed_ms, window_ms, limit, sliding)
    reset_ms = retry_ms if not allowed else to_window_end
    return Decision(allowed, limit, remaining, _seconds(reset_ms), _seconds(retry_ms) if retry_ms else 0)


def _retry_ms(count: int, previous: int, elapsed: int, window: int, limit: int, sliding: bool) -> int:
    """How long until one more request passes, for a refused request."""
    if not sliding:
        return window - elapsed  # the next window starts from zero
    room = limit - 1 - count
    if previous > 0 and room >= 0:
        # later in this window, when the previous window's weight has decayed enough
        wait = math.ceil(window - elapsed - room * window / previous)
        if wait < window - elapsed:
            return max(1, wait)
    # in the next window: this window's count becomes the weighted one
    later = max(0, math.ceil(window - (limit - 1) * window / count)) if count else 0
    return window - elapsed + later


def _seconds(ms: int) -> int:
    return max(1, math.ceil(ms / 1000)) if ms > 0 else 0


# --- stores -----------------------------------------------------------------------------


class MemoryRateStore:
    """Counts in this process (``store="memory://"``): each instance limits alone.

    At most ``max_keys`` clients are kept, in the order they were last counted: a
    new client beyond that forgets the least recently seen one (never all of them,
    so a flood of new keys cannot wipe the counts of the clients being limited)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = MAX_KEYS) -> None:
        if max_keys < 1:
            raise ValueError("a memory rate store needs max_keys >= 1")
        self.clock = clock
        self.max_keys = max_keys
        self.states: dict[str, WindowState] = {}
        self._swept = 0

    async def hit(self, key: str, limit: int, window_ms: int, sliding: bool) -> Decision:
        """Count one request for ``key`` if it is within the limit (no await inside:
        the check and the count are one step for the event loop)."""
        now_ms = int(self.clock() * 1000)
        if now_ms - self._swept > window_ms:
            self._sweep(now_ms // window_ms)
            self._swept = now_ms
        states = self.states
        previous = states.pop(key, None)  # re-inserted below: the dict's order is recency
        if previous is None and len(states) >= self.max_keys:
            del states[next(iter(states))]
        state, allowed, elapsed = advance(previous, now_ms, window_ms, limit, sliding)
        states[key] = state
        return describe(allowed, state.count, state.previous, elapsed, window_ms, limit, sliding)

    async def undo(self, key: str) -> None:
        """Take back one counted request (it turned out not to be one to limit)."""
        state = self.states.get(key)
        if state is not None and state.count > 0:
            state.count -= 1

    async def reset(self, key: str) -> None:
        """Forget ``key``'s counts."""
        self.states.pop(key, None)

    def _sweep(self, index: int) -> None:
        """Forget clients not seen in the last two windows (bounded memory under a flood)."""
        stale = [k for k, s in self.states.items() if s.window < index - 1]
        for key in stale:
            del self.states[key]

    async def close(self) -> None:
        self.states.clear()


# KEYS[1] = the client's hash; ARGV = limit, window (ms), sliding ("1"/"0").
# Redis's clock (TIME), not the instances', so every instance sees the same windows.
_LUA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local sliding = ARGV[3] == '1'
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local index = math.floor(now / window)
local elapsed = now - index * window
local stored = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(stored[1])
local count = tonumber(stored[2]) or 0
local prev = tonumber(stored[3]) or 0
if w ~= index then
  if w == index - 1 then prev = count else prev = 0 end
  count = 0
end
if not sliding then prev = 0 end
local allowed = 0
if prev * (window - elapsed) + count * window <= (limit - 1) * window then
  allowed = 1
  count = count + 1
end
redis.call('HSET', KEYS[1], 'w', index, 'c', count, 'p', prev)
local ttl = window - elapsed
if sliding then ttl = ttl + window end
redis.call('PEXPIRE', KEYS[1], ttl)
return {allowed, count, prev, elapsed}
"""

# Take back one counted request (MemoryRateStore.undo); the expiry stays as it was.
_UNDO_LUA = """
local c = tonumber(redis.call('HGET', KEYS[1], 'c'))
if c and c > 0 then redis.call('HINCRBY', KEYS[1], 'c', -1) end
return 0
"""


class RedisRateStore:
    """Counts in Redis, one atomic Lua script per request: one limit for all instances."""

    def __init__(self, url: str, prefix: str) -> None:
        self.redis = LoopRedis(url)
        self.prefix = prefix
        self._script: Any = None
        self._script_client: Any = None

    def _callable(self) -> Any:
        client = self.redis.client()
        if self._script_client is not client:
            self._script = client.register_script(_LUA)  # EVALSHA, loading it on NOSCRIPT
            self._script_client = client
        return self._script

    async def hit(self, key: str, limit: int, window_ms: int, sliding: bool) -> Decision:
        script = self._callable()
        allowed, count, previous, elapsed = await script(
            keys=[self.prefix + key], args=[limit, window_ms, "1" if sliding else "0"]
        )
        return describe(bool(allowed), int(count), int(previous), int(elapsed), window_ms, limit, sliding)

    async def undo(self, key: str) -> None:
        """Take back one counted request (atomic: a short Lua script)."""
        await self.redis.client().eval(_UNDO_LUA, 1, self.prefix + key)

    async def reset(self, key: str) -> None:
        await self.redis.client().delete(self.prefix + key)

    async def close(self) -> None:
        await self.redis.close()


def open_store(url: str, prefix: str, what: str = "rate_limit(store=...)", max_keys: int = MAX_KEYS) -> MemoryRateStore | RedisRateStore:
    """The store for a URL: ``"memory://"`` (this process, at most ``max_keys``
    clients) or Redis (every instance; keys start with ``prefix``). ``what`` names
    the option in the error for any other URL."""
    if store_kind(url, what) == "memory":
        return MemoryRateStore(max_keys=max_keys)
    return RedisRateStore(url, prefix)


# --- the middleware -----------------------------------------------------------------------


def client_ip(req: Request) -> str:
    """The default key: the client address (``req.ip``, which honours ``trust_proxy``)."""
    return req.ip


class RateLimit(Middleware):
    """The middleware ``rate_limit()`` returns (see the module docstring)."""

    def __init__(
        self,
        limit: int,
        window: float,
        sliding: bool,
        store: MemoryRateStore | RedisRateStore,
        key: Callable[[Request], Any],
        skip: Callable[[Request], Any] | None,
        message: str,
    ) -> None:
        self.limit = limit
        self.window = window
        self.window_ms = max(1, round(window * 1000))
        self.sliding = sliding
        self.store = store
        self.key = key
        self.key_is_async = is_async_callable(key)
        self.skip = skip
        self.skip_is_async = skip is not None and is_async_callable(skip)
        self.message = message
        self.policy = f"{limit};w={window:g}"
        self.outage = StoreOutage("rate_limit: store unavailable, letting requests through")

    async def client_key(self, req: Request) -> str:
        value = self.key(req)
        if self.key_is_async:
            value = await value
        text = str(value)
        if len(text) > _MAX_KEY:
            text = "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return text

    async def check(self, req: Request) -> Decision | None:
        """Count this request; None when the store is unavailable (fail open)."""
        if self.outage.paused:
            return None
        key = await self.client_key(req)
        try:
            return await self.store.hit(key, self.limit, self.window_ms, self.sliding)
        except store_errors() as exc:
            self.outage.failed(exc)
            return None

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        if self.skip is not None:
            skipped = self.skip(req)
            if self.skip_is_async:
                skipped = await skipped
            if skipped:
                await next()
                return
        decision = await self.check(req)
        if decision is not None:
            res.set("ratelimit-limit", str(decision.limit))
            res.set("ratelimit-remaining", str(decision.remaining))
            res.set("ratelimit-reset", str(decision.reset))
            res.set("ratelimit-policy", self.policy)
            if not decision.allowed:
                raise HTTPError(
                    429,
                    f"{self.message} Retry in {decision.retry_after} s.",
                    headers={"retry-after": str(decision.retry_after)},
                )
        await next()

    async def close(self) -> None:
        """Close the store's connections (e.g. from ``app.on_shutdown``)."""
        await self.store.close()

    def __repr__(self) -> str:
        return f"rate_limit(limit={self.limit}, window={self.window:g}, algorithm={'sliding' if self.sliding else 'fixed'!r})"


def rate_limit(
    limit: int = 100,
    window: float = 60,
    *,
    algorithm: Literal["fixed", "sliding"] = "fixed",
    store: str = "memory://",
    key: Callable[[Request], Any] = client_ip,
    skip: Callable[[Request], Any] | None = None,
    name: str | None = None,
    message: str = "Too many requests.",
) -> RateLimit:
    """Limit each client to ``limit`` requests per ``window`` seconds (replaces
    Express's ``express-rate-limit``).

    ``store``: ``"memory://"`` (this process) or a Redis URL (shared by every
    instance). ``key(req)``: who is counted, sync or async (default: ``req.ip``;
    behind a proxy set ``App(trust_proxy=...)`` or everyone is the proxy).
    ``skip(req)``: true to let a request through uncounted. ``name`` separates
    limiters that share a Redis (default: derived from limit, window and
    algorithm). ``message`` starts the 429's detail.
    """
    if not isinstance(limit, int) or limit < 1:
        raise ValueError(f"rate_limit(limit=...) must be an int >= 1, not {limit!r}")
    if not isinstance(window, (int, float)) or not window > 0 or math.isinf(window):
        raise ValueError(f"rate_limit(window=...) must be seconds > 0, not {window!r}")
    if algorithm not in ("fixed", "sliding"):
        raise ValueError(f"rate_limit(algorithm=...) must be 'fixed' or 'sliding', not {algorithm!r}")
    if not callable(key) or (skip is not None and not callable(skip)):
        raise TypeError("rate_limit(key=..., skip=...) take functions of req")
    label = name or f"{algorithm}:{limit}:{window:g}"
    backend = open_store(store, f"nx:rl:{label}:")
    return RateLimit(limit, window, algorithm == "sliding", backend, key, skip, message)
