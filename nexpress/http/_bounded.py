"""A dict that forgets everything when it is full: for memos keyed by what requests
send (paths, query strings, alt texts), where a bound matters more than which entries
survive, and a hit must stay one C-level ``dict.get``."""

from __future__ import annotations

from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(dict[K, V]):
    """``put(key, value)`` stores like ``d[key] = value``, emptying the dict first
    when it holds ``limit`` entries already; reads are plain dict reads."""

    __slots__ = ("limit",)

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: K, value: V) -> V:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value
