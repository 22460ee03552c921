"""Runs for every page and API route under app/: reports render time to the browser."""

import time


async def middleware(req, res, next):
    start = time.perf_counter()
    await next()
    res.set("server-timing", f"app;dur={(time.perf_counter() - start) * 1000:.2f}")
