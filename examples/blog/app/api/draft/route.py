"""Draft preview: ``GET /api/draft?secret=...&path=/blog/coming-soon`` turns draft mode
on for this browser (a signed cookie) and goes to that page; cached pages then render
fresh for it, unpublished posts included. ``POST /api/draft`` (the "Exit preview"
button) turns it off. The dashboard links here for signed-in authors."""

from accounts import preview_secret

from nexpress import Request, Response, draft_mode


async def GET(req: Request, res: Response) -> None:
    draft_mode.preview(req, res, secret=preview_secret(req.app.secret), default="/blog")


async def POST(req: Request, res: Response) -> None:
    draft_mode.exit(req, res, to="/blog")
