"""Query strings and form bodies: ``parse_qs`` and the ``MultiDict`` that holds them."""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, ValuesView
from typing import Any, Generic, TypeVar, overload

from .errors import BadRequest
from .paths import percent_decode


def parse_qs(qs: bytes | str, what: str = "query string", max_fields: int | None = None) -> list[tuple[str, str]]:
    """Parse an urlencoded string into (name, value) pairs, strictly; more than
    ``max_fields`` pairs is a 400 (nothing is dropped silently)."""
    if isinstance(qs, bytes):
        try:
            qs = qs.decode("ascii")
        except UnicodeDecodeError:
            try:
                qs = qs.decode("utf-8")
            except UnicodeDecodeError:
                raise BadRequest(f"The {what} is not valid UTF-8") from None
    pairs = []
    for chunk in qs.split("&"):
        if not chunk:
            continue
        if max_fields is not None and len(pairs) >= max_fields:
            raise BadRequest(f"The {what} has more than {max_fields} fields")
        name, sep, value = chunk.partition("=")
        pairs.append(
            (percent_decode(name, what, True), percent_decode(value, what, True) if sep else "")
        )
    return pairs


V = TypeVar("V")
D = TypeVar("D")


class MultiDict(Generic[V]):
    """An immutable multi-dict: ``d["a"]`` is the first value, ``d.getall("a")`` all of them.
    ``req.query`` is a ``MultiDict[str]``; a form's values are ``str | UploadFile``."""

    __slots__ = ("_dict", "_pairs")

    def __init__(self, pairs: Iterable[tuple[str, V]] = ()) -> None:
        self._pairs = list(pairs)
        first: dict[str, V] = {}
        for k, v in self._pairs:
            first.setdefault(k, v)
        self._dict = first

    def __getitem__(self, key: str) -> V:
        return self._dict[key]

    @overload
    def get(self, key: str) -> V | None: ...
    @overload
    def get(self, key: str, default: V) -> V: ...
    @overload
    def get(self, key: str, default: D) -> V | D: ...
    def get(self, key: str, default: Any = None) -> Any:
        return self._dict.get(key, default)

    def getall(self, key: str) -> list[V]:
        return [v for k, v in self._pairs if k == key]

    def items(self) -> ItemsView[str, V]:
        return self._dict.items()

    def multi_items(self) -> list[tuple[str, V]]:
        return list(self._pairs)

    def keys(self) -> KeysView[str]:
        return self._dict.keys()

    def values(self) -> ValuesView[V]:
        return self._dict.values()

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiDict):
            return self._pairs == other._pairs
        if isinstance(other, dict):
            return self._dict == other
        return NotImplemented

    def __repr__(self) -> str:
        return f"MultiDict({self._pairs!r})"
