"""/dashboard: only for signed-in users (others are sent to sign in and back)."""

from db import list_posts

auth = True
metadata = {"title": "Dashboard"}


async def data(req):
    return {"posts": await list_posts()}
