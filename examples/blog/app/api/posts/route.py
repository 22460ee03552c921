"""GET /api/posts lists posts; POST /api/posts creates one (signed-in users only)."""

from accounts import require_author
from db import Post, Session, get_post, list_posts
from live import announce
from schemas import PostIn

from nexpress import HTTPError
from nexpress.cache import revalidate_tag


async def GET(req):
    return await list_posts()


async def POST(req, res):
    require_author(req)
    data = await req.json(PostIn)
    if await get_post(data.slug) is not None:
        raise HTTPError(409, f"A post with slug {data.slug!r} already exists")
    post = Post(slug=data.slug, title=data.title, body=data.body)
    async with Session() as session:
        session.add(post)
        await session.commit()
    await revalidate_tag("posts")  # the data and every page built from it, on every instance
    await announce(req.app, post.as_dict())  # open pages show it without a reload
    res.status(201).set("location", f"/api/posts/{post.slug}")
    return post.as_dict()
