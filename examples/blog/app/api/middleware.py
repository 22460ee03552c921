"""Every API response is fresh: nothing under /api is cached by browsers or proxies."""


async def middleware(req, res, next):
    await next()
    res.set("cache-control", "no-store")
