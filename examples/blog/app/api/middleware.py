"""Every API response is fresh: nothing under /api is cached by browsers or proxies."""

from nexpress import Next, Request, Response


async def middleware(req: Request, res: Response, next: Next) -> None:
    await next()
    res.set("cache-control", "no-store")
