from db import list_posts

metadata = {"title": "Posts"}


async def data(req):
    return {"posts": await list_posts()}
