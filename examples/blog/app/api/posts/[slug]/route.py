"""GET, PATCH and DELETE /api/posts/:slug (changes need a signed-in user)."""

from typing import Any

from accounts import require_author
from db import Post, Session
from schemas import PostUpdate
from sqlalchemy.ext.asyncio import AsyncSession

from nexpress import HTTPError, Request, Response
from nexpress.cache import revalidate_tag


async def _load(session: AsyncSession, slug: str) -> Post:
    post = await session.get(Post, slug)
    if post is None:
        raise HTTPError(404, f"No post with slug {slug!r}")
    return post


async def GET(req: Request) -> dict[str, Any]:
    async with Session() as session:
        return (await _load(session, req.params["slug"])).as_dict()


async def PATCH(req: Request) -> dict[str, Any]:
    require_author(req)
    changes = await req.json(PostUpdate)
    async with Session() as session:
        post = await _load(session, req.params["slug"])
        if changes.title is not None:
            post.title = changes.title
        if changes.body is not None:
            post.body = changes.body
        await session.commit()
    await revalidate_tag("posts")
    return post.as_dict()


PUT = PATCH


async def DELETE(req: Request, res: Response) -> None:
    require_author(req)
    async with Session() as session:
        post = await _load(session, req.params["slug"])
        await session.delete(post)
        await session.commit()
    await revalidate_tag("posts")
    res.status(204).end()
