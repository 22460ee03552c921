"""Runs for every page and API route under app/: reports render time to the browser."""

import time

from nexpress import Next, Request, Response


async def middleware(req: Request, res: Response, next: Next) -> None:
    start = time.perf_counter()
    await next()
    res.set("server-timing", f"app;dur={(time.perf_counter() - start) * 1000:.2f}")
