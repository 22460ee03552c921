"""GET /api/posts lists posts; POST /api/posts creates one."""

from db import Post, Session, get_post, list_posts
from schemas import PostIn

from nexpress import HTTPError


async def GET(req):
    return [post.as_dict() for post in await list_posts()]


async def POST(req, res):
    data = await req.json(PostIn)
    if await get_post(data.slug) is not None:
        raise HTTPError(409, f"A post with slug {data.slug!r} already exists")
    post = Post(slug=data.slug, title=data.title, body=data.body)
    async with Session() as session:
        session.add(post)
        await session.commit()
    res.status(201).set("location", f"/api/posts/{post.slug}")
    return post.as_dict()
