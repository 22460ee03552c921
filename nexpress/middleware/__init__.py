"""Middleware: the chain runner.

``async def mw(req, res, next)``: ``await next()`` runs the rest of the chain
(later middleware, then the handler) and returns when it is done, so code after
it can still change headers. Not calling ``next()`` ends the chain; the
middleware must then have sent a response (``res.send``, ``res.json``...), or the
request fails with an error naming it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..request import Request
    from ..response import Response
    from ..routing.table import Step

__all__ = ["Middleware", "MiddlewareError", "csrf", "run_chain"]


class Middleware:
    """Base class for middleware objects: subclass it and define
    ``async def __call__(self, req, res, next)``. ``app.use`` recognises
    middleware by this type (a plain ``async def mw(req, res, next)`` works too);
    ``source`` is what ``nexpress routes URL`` shows for it."""

    source: str | None = None

    async def __call__(self, req: Request, res: Response, next: Callable[..., Awaitable[None]]) -> None:
        raise NotImplementedError


class MiddlewareError(RuntimeError):
    """A middleware broke the chain's contract (e.g. neither sent nor called next)."""


def _name(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or repr(fn)


async def run_chain(
    steps: tuple[Step, ...],
    endpoint: Callable[[Request, Response], Awaitable[None]],
    end_depth: int,
    req: Request,
    res: Response,
) -> None:
    """Run ``steps`` in order around ``endpoint``."""
    count = len(steps)

    async def call(index: int) -> None:
        while index < count:
            step = steps[index]
            if step.condition is None or step.condition.match(req.raw_path):
                break
            index += 1
        else:
            req._base = end_depth
            await endpoint(req, res)
            return
        depth = step.depth
        called = False

        async def next_(err: BaseException | None = None) -> None:
            nonlocal called
            if err is not None:
                raise err
            if called:
                raise MiddlewareError(f"middleware {_name(step.fn)} ({step.site}) called next() twice")
            called = True
            await call(index + 1)
            req._base = depth

        req._base = depth
        await step.fn(req, res, next_)
        if not called and not res.sent:
            raise MiddlewareError(
                f"middleware {_name(step.fn)} ({step.site}) neither called 'await next()'"
                " nor sent a response"
            )

    await call(0)


from .csrf import csrf  # noqa: E402 (the battery builds on Middleware above)
