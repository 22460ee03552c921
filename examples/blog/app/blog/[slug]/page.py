from db import get_post, list_posts

from nexpress import HTTPError

revalidate = 60  # ISR; new posts render on first request (dynamic_params = True)


async def static_params():
    return [{"slug": post["slug"]} for post in await list_posts()]


async def data(req):
    post = await get_post(req.params["slug"])
    if post is None:
        raise HTTPError(404, "No such post")
    return {"post": post}


async def metadata(req, data):
    post = data["post"]
    return {
        "title": post["title"],
        "description": post["body"][:150],
        "open_graph": {"type": "article"},
    }
