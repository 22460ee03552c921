"""Calling user code that may be sync or async, the one way the framework does it."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from typing import Any


def is_async_callable(fn: Any) -> bool:
    """True for ``async def`` functions and objects whose ``__call__`` is one."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(fn, "__call__", None)  # noqa: B004 (a callable object's method)
    return inspect.iscoroutinefunction(call)


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    """``await fn(*args)``: a coroutine function is awaited on the event loop; a plain
    function runs in a worker thread (so it may block), and an awaitable it returns
    is awaited too."""
    if is_async_callable(fn):
        return await fn(*args)
    result = await asyncio.to_thread(fn, *args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def call_all(functions: list[Callable[[], Any]]) -> None:
    """Run start-up or shutdown handlers in order, on the event loop (a sync one runs
    inline: it may create loop-bound objects such as connection pools)."""
    for fn in functions:
        result = fn()
        if inspect.isawaitable(result):
            await result
