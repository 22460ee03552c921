"""``@cached``: memoise an async function by its arguments in the app's cache."""

from __future__ import annotations

import functools
import hashlib
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from ..http.draft import draft_rendering
from .core import current_cache, current_record
from .stores import Entry

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


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
            if draft_rendering():  # a draft preview: fresh data, and nothing of it stored
                return await fn(*args, **kwargs)
            key = _call_key(fn, args, kwargs)
            record = current_record()
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
