"""Prerendering: the pages to build (static, ISR, each ``static_params()`` entry) rendered in parallel with a bare request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from ..cache import Entry
from ..cache.isr import CachedEndpoint
from ..routing.pattern import fill


class BuildError(Exception):
    """A page failed to prerender, or an export needs a server; the message says which."""


@dataclass
class Target:
    route: Any
    path: str
    params: dict[str, Any]
    endpoint: CachedEndpoint

    @property
    def revalidate(self) -> int | None:
        return self.endpoint.revalidate


@dataclass
class Result:
    target: Target
    entry: Entry | None
    seconds: float
    error: str | None = None


async def targets(app: Any) -> list[Target]:
    """Every (route, path) to prerender."""
    table = app.table
    found: list[Target] = []
    seen: set[str] = set()
    for route in table.routes:
        handler = route.handler
        if route.method != "GET" or not isinstance(handler, CachedEndpoint) or handler.api:
            continue
        if not route.param_names:
            paths = [(fill(route.segments, {}), {})]
        else:
            static_params = handler.static_params
            if static_params is None:
                continue  # rendered on first request, then cached (dynamic_params)
            entries = static_params()
            if asyncio.iscoroutine(entries):
                entries = await entries
            paths = []
            for params in entries or ():
                if set(params) != set(route.param_names):
                    continue  # e.g. [[...path]] entries without the path belong to the bare route
                paths.append((fill(route.segments, params), dict(params)))
        for path, params in paths:
            if "%2f" in path.lower():
                continue  # a "/" inside a value: its decoded path is another route's (served uncached)
            if path not in seen:
                seen.add(path)
                found.append(Target(route, path, params, handler))
    return found


async def prerender(app: Any, on_done: Callable[[Result], None] | None = None, concurrency: int = 8) -> list[Result]:
    """Render every target in parallel (bounded), reporting each as it finishes."""
    limit = asyncio.Semaphore(concurrency)

    async def one(target: Target) -> Result:
        async with limit:
            start = time.perf_counter()
            try:
                entry = await target.endpoint.render_entry(unquote(target.path), target.params)
                error = None if entry is not None else "did not render a 200 page"
            except Exception as exc:  # reported per page, the build fails at the end
                entry, error = None, f"{type(exc).__name__}: {exc}"
            result = Result(target, entry, time.perf_counter() - start, error)
            if on_done is not None:
                on_done(result)
            return result

    return list(await asyncio.gather(*(one(t) for t in await targets(app))))


def failures_message(failed: list[Result]) -> str:
    lines = "\n".join(f"  {r.target.path}  ({r.target.route.source}): {r.error}" for r in failed)
    return f"{len(failed)} page(s) failed to prerender:\n{lines}"
