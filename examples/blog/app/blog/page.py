from db import list_posts

metadata = {"title": "Posts"}
revalidate = 60


async def data(req):
    return {"posts": await list_posts()}
