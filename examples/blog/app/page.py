from db import list_posts

metadata = {"title": "Home"}


async def data(req):
    return {"posts": await list_posts(limit=5)}
