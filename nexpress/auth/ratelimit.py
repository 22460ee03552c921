"""Failed sign-in attempts, counted per account name and per client address in a
sliding window (in memory, per process). Pure: the clock is passed in."""

from __future__ import annotations

import time
from collections import deque

__all__ = ["FailureLimiter"]


class FailureLimiter:
    """At most ``limit`` failures per key within ``window`` seconds; a success clears
    the account's count. Keys are whatever the caller chooses ("id:alice", "ip:1.2.3.4")."""

    def __init__(self, limit: int = 5, window: float = 15 * 60, max_keys: int = 100_000) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("the failed sign-in limit needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, keys: list[str], now: float | None = None) -> int:
        """Seconds until every key may try again (0: allowed now)."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                wait = max(wait, times[-self.limit] + self.window - now)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, keys: list[str], now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if len(self._failures) >= self.max_keys:
            for key in list(self._failures):  # drop what has expired; keep memory bounded
                self._recent(key, now)
            if len(self._failures) >= self.max_keys:
                self._failures.clear()
        for key in keys:
            times = self._failures.setdefault(key, deque())
            times.append(now)
            while len(times) > self.limit:
                times.popleft()

    def succeeded(self, keys: list[str]) -> None:
        for key in keys:
            self._failures.pop(key, None)
