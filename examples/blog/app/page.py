from db import list_posts

metadata = {"title": "Home"}
revalidate = 60  # ISR: served from the cache, regenerated at most once a minute


async def data(req):
    return {"posts": await list_posts(limit=5)}
