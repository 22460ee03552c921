"""Everything under /dashboard needs a signed-in user: others are sent to /login with a
callbackUrl back here (the course's ``authorized`` callback, as folder middleware)."""

from urllib.parse import quote

from nexpress import Next, Request, Response


async def middleware(req: Request, res: Response, next: Next) -> None:
    if req.auth is None:
        res.redirect("/login?callbackUrl=" + quote(req.original_url, safe=""))
        return
    await next()
