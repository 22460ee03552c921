"""The course's ``authorized`` callback, for pages outside /dashboard: a signed-in
visitor opening the home page or /login is sent to /dashboard (dashboard/middleware.py
does the other half)."""

from nexpress import Next, Request, Response


async def middleware(req: Request, res: Response, next: Next) -> None:
    if req.method in ("GET", "HEAD") and not req.path.startswith("/dashboard") and req.auth is not None:
        res.redirect("/dashboard")
        return
    await next()
