from db import get_post

from nexpress import HTTPError


async def data(req):
    post = await get_post(req.params["slug"])
    if post is None:
        raise HTTPError(404, "No such post")
    return {"post": post}


async def metadata(req, data):
    post = data["post"]
    return {
        "title": post.title,
        "description": post.body[:150],
        "open_graph": {"type": "article"},
    }
