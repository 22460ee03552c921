"""GET /api/posts lists posts; POST /api/posts creates one (signed-in users only)."""

from typing import Any

from accounts import require_author
from db import Conflict, create_post, list_posts
from live import announce
from schemas import PostIn

from nexpress import HTTPError, Request, Response
from nexpress.cache import revalidate_tag


async def GET(req: Request) -> list[dict[str, Any]]:
    return await list_posts()


async def POST(req: Request, res: Response) -> dict[str, Any]:
    require_author(req)
    data = await req.json(PostIn)
    try:
        # no "does it exist?" query first: two requests could both see "no" and both
        # insert; the primary key decides, and the loser gets the 409
        post = await create_post(data.slug, data.title, data.body)
    except Conflict:
        raise HTTPError(409, f"A post with slug {data.slug!r} already exists") from None
    await revalidate_tag("posts")  # the data and every page built from it, on every instance
    await announce(req.app, post)  # open pages show it without a reload
    res.status(201).set("location", f"/api/posts/{post['slug']}")
    return post
